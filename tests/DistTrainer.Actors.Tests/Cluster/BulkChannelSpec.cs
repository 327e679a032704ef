using System.Collections.Concurrent;
using Akka.Actor;
using Akka.Configuration;
using DistTrainer.Actors.Messages;
using DistTrainer.Actors.Transfer;

namespace DistTrainer.Actors.Tests.Cluster;

/// <summary>Two ActorSystems on 127.0.0.1 with the bulk channel on: chunked tensors between them over real sockets.</summary>
public sealed class BulkChannelSpec
{
    private const int Floats = 50_000; // 4 chunks of the default 64000 bytes

    private static ActorSystem Node(string name) => ActorSystem.Create(name, ConfigurationFactory.ParseString("""
        akka.loglevel = WARNING
        akka.actor.provider = remote
        akka.remote.dot-netty.tcp { hostname = "127.0.0.1", port = 0, batching.enabled = false }
        disttrainer.bulk-channel = on
        """).WithFallback(DistTrainerConfig.Default));

    [Fact]
    public async Task Bulk_channel_should_deliver_back_to_back_tensors_intact_and_in_order()
    {
        var sending = Node("bulk-a");
        var receiving = Node("bulk-b");
        try
        {
            TransferFlow.Get(sending);
            TransferFlow.Get(receiving);
            var received = new BlockingCollection<(long Version, float[] Data)>();
            receiving.ActorOf(Props.Create(() => new Collector(received)), "collector");
            var remoteAddress = ((ExtendedActorSystem)receiving).Provider.DefaultAddress;
            var collector = await sending.ActorSelection(new RootActorPath(remoteAddress) / "user" / "collector").ResolveOne(TimeSpan.FromSeconds(10));
            var sender = sending.ActorOf(Props.Create(() => new Sender(collector)), "sender");

            // The first transfer goes over Akka.Remote and learns the other node's bulk port.
            sender.Tell(1L);
            AssertTensor(1, received.Take(new CancellationTokenSource(TimeSpan.FromSeconds(30)).Token));
            var route = TransferFlow.Get(sending).Routes.Of(remoteAddress);
            for (var waited = 0; route.Writer is null && waited < 100; waited++)
            {
                await Task.Delay(100);
            }
            Assert.True(route.Writer is { Healthy: true }, "no bulk writer to the other node");

            // Back to back over the bulk channel: pooled arrays are reused between transfers on both sides.
            for (var version = 2L; version <= 9; version++)
            {
                sender.Tell(version);
            }
            for (var version = 2L; version <= 9; version++)
            {
                AssertTensor(version, received.Take(new CancellationTokenSource(TimeSpan.FromSeconds(30)).Token));
            }
        }
        finally
        {
            await Task.WhenAll(sending.Terminate(), receiving.Terminate());
        }
    }

    private static float[] Values(long version) => TestData.Random(Floats, (int)version);

    private static void AssertTensor(long expectedVersion, (long Version, float[] Data) got)
    {
        Assert.Equal(expectedVersion, got.Version);
        Assert.Equal(Values(expectedVersion), got.Data);
    }

    /// <summary>Sends the tensor of the version it is told, chunked, as the parameter server does.</summary>
    private sealed class Sender : ReceiveActor
    {
        public Sender(IActorRef target) => Receive<long>(version =>
        {
            var tensor = OutgoingTensor.Create(Values(version), 100 + version, DistTrainerSettings.Create(Context.System).ChunkFloats);
            tensor.SendTo(Context.System, target, new ParametersSnapshot(version, tensor.Length, tensor.TransferId, tensor.Inline), Self);
            tensor.Release();
        });
    }

    /// <summary>Reassembles what arrives and hands a copy to the test.</summary>
    private sealed class Collector : ReceiveActor
    {
        public Collector(BlockingCollection<(long, float[])> received)
        {
            var assembler = new ChunkAssembler(8, Floats);
            Receive<TensorChunk>(c => Assert.True(assembler.Add(Sender, c, out var reason, out _), reason));
            Receive<ParametersSnapshot>(s =>
            {
                Assert.True(assembler.TryTake(Sender, s.Length, s.TransferId, s.Weights, Floats, out var tensor, out var reason), reason);
                var copy = new float[Floats];
                tensor.CopyTo(copy);
                received.Add((s.Version, copy));
            });
        }
    }
}
