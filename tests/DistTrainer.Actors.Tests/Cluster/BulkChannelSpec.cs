using System.Collections.Concurrent;
using Akka.Actor;
using Akka.Configuration;
using DistTrainer.Actors.Cluster;
using DistTrainer.Actors.Messages;
using DistTrainer.Actors.ParameterServer;
using DistTrainer.Actors.Transfer;
using DistTrainer.Numerics.Optimizers;

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

    [Fact]
    public async Task Bulk_channel_should_reject_a_chunk_set_with_a_repeated_chunk_and_go_on_with_the_next_transfer()
    {
        const int length = 1253; // a length no other test rents from the shared pool
        var sending = Node("bulk-c");
        var receiving = Node("bulk-d");
        try
        {
            TransferFlow.Get(receiving);
            var warnings = new BlockingCollection<string>();
            receiving.ActorOf(Props.Create(() => new WarningWatch(warnings)));
            var outcomes = new BlockingCollection<(long Version, float[]? Data, string? Reason)>();
            receiving.ActorOf(Props.Create(() => new Judge(outcomes, length)), "judge");
            var remoteAddress = ((ExtendedActorSystem)receiving).Provider.DefaultAddress;
            var flow = sending.ActorSelection(new RootActorPath(remoteAddress) / "system" / FlowResponder.Name);
            var port = (await flow.Ask<FlowAck>(new FlowProbe(1), TimeSpan.FromSeconds(10))).BulkPort;
            var judge = await sending.ActorSelection(new RootActorPath(remoteAddress) / "user" / "judge").ResolveOne(TimeSpan.FromSeconds(10));
            var values = TestData.Random(length, 3);
            var half = length / 2;

            using var client = new System.Net.Sockets.TcpClient("127.0.0.1", port);
            using var writer = new BinaryWriter(client.GetStream());
            // Transfer 5 sends chunk 0 twice (and never chunk 1): rejected before any value is used.
            WriteTransfer(writer, sending, judge, 5, 2, length, [(0, 0, half), (0, 0, half)], [values[..half], values[..half]], new ParametersSnapshot(1, length, 5, []));
            // Transfer 6 is whole, its chunks on the wire in reverse order.
            WriteTransfer(writer, sending, judge, 6, 2, length, [(1, half, length - half), (0, 0, half)], [values[half..], values[..half]], new ParametersSnapshot(2, length, 6, []));
            writer.Flush();

            var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30)).Token;
            var rejected = outcomes.Take(timeout);
            Assert.Equal(1, rejected.Version);
            Assert.Contains("no chunks received", rejected.Reason);
            Assert.Contains(warnings.GetConsumingEnumerable(timeout), w => w.Contains("transfer 5") && w.Contains("chunk 0 arrived twice"));
            var accepted = outcomes.Take(timeout);
            Assert.Equal(2, accepted.Version);
            Assert.Equal(values, accepted.Data);
        }
        finally
        {
            await Task.WhenAll(sending.Terminate(), receiving.Terminate());
        }
    }

    [Fact]
    public async Task Parameter_server_should_sum_parts_held_out_of_order_from_the_bulk_channel_as_they_were_sent()
    {
        // Parts 2 and 1 of a sync step arrive first and are held; the bulk reader then reads part 0 into a pooled
        // array. Were a held part's array back in the pool by then, part 0 would overwrite it.
        const int length = 1259; // a length no other test rents from the shared pool
        const float learningRate = 0.5f;
        var sending = Node("bulk-e");
        var receiving = Node("bulk-f");
        try
        {
            TransferFlow.Get(receiving);
            var initial = TestData.Random(length, 1);
            var settings = new ParameterServerSettings(TrainingMode.Sync, new OptimizerOptions(OptimizerKind.Sgd, learningRate)) { ChunkFloats = 4 * length };
            var server = receiving.ActorOf(ParameterServerActor.Props(settings, initial), "parameter-server");
            var seen = new BlockingCollection<object>();
            var coordinator = receiving.ActorOf(Props.Create(() => new Recorder(seen)), "coordinator");
            server.Tell(new RegisterCoordinator(length), coordinator);
            server.Tell(new PullParameters(0), coordinator); // subscribed: the step's weights come back inline
            var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30)).Token;
            Assert.Equal(0, Next<ParametersSnapshot>(seen, timeout).Version);

            var remoteAddress = ((ExtendedActorSystem)receiving).Provider.DefaultAddress;
            var flow = sending.ActorSelection(new RootActorPath(remoteAddress) / "system" / FlowResponder.Name);
            var port = (await flow.Ask<FlowAck>(new FlowProbe(1), TimeSpan.FromSeconds(10))).BulkPort;
            var remoteServer = await sending.ActorSelection(new RootActorPath(remoteAddress) / "user" / "parameter-server").ResolveOne(TimeSpan.FromSeconds(10));
            var parts = Enumerable.Range(0, 3).Select(p => TestData.Random(length, 10 + p)).ToArray();
            using var client = new System.Net.Sockets.TcpClient("127.0.0.1", port);
            using var writer = new BinaryWriter(client.GetStream());
            foreach (var part in new[] { 2, 1, 0 })
            {
                var push = new PushGradients(part, 0, 0, part, 0, 6, 2, 1.0, 10, length, 40 + part, [], 0);
                WriteTransfer(writer, sending, remoteServer, 40 + part, 1, length, [(0, 0, length)], [parts[part]], push);
                writer.Flush();
                if (part != 0)
                {
                    Assert.Equal(part, Next<GradientAccepted>(seen, timeout).Part); // taken before the next part is read
                }
            }

            // The last part is accepted once its step is applied (the step's own pass checks it), just before the broadcast.
            Assert.Equal(0, Next<GradientAccepted>(seen, timeout).Part);
            var weights = Next<ParametersSnapshot>(seen, timeout);
            Assert.Equal(1, weights.Version);
            Assert.Equal(1, Next<StepApplied>(seen, timeout).Version);
            for (var i = 0; i < length; i++)
            {
                var expected = initial[i] - learningRate * ((double)parts[0][i] + parts[1][i] + parts[2][i]) / 6;
                Assert.Equal(expected, weights.Weights[i], 1e-5);
            }
        }
        finally
        {
            await Task.WhenAll(sending.Terminate(), receiving.Terminate());
        }
    }

    private static T Next<T>(BlockingCollection<object> seen, CancellationToken timeout)
    {
        while (true)
        {
            if (seen.Take(timeout) is T message)
            {
                return message;
            }
        }
    }

    /// <summary>A transfer frame as <see cref="BulkWriter"/> writes it, with any layout.</summary>
    private static void WriteTransfer(BinaryWriter writer, ActorSystem system, IActorRef target, long transferId, int count, int total,
        (int Index, int Offset, int Length)[] chunks, float[][] values, object header)
    {
        writer.Write(BulkChannel.TransferFrame);
        writer.Write(Akka.Serialization.Serialization.SerializedActorPath(target));
        writer.Write(Akka.Serialization.Serialization.SerializedActorPath(target));
        writer.Write(transferId);
        writer.Write(count);
        writer.Write(total);
        writer.Write(chunks.Length);
        foreach (var (index, offset, length) in chunks)
        {
            writer.Write(index);
            writer.Write(offset);
            writer.Write(length);
        }
        var serializer = system.Serialization.FindSerializerFor(header);
        var bytes = serializer.ToBinary(header);
        writer.Write(serializer.Identifier);
        writer.Write(Akka.Serialization.Serialization.ManifestFor(serializer, header));
        writer.Write(bytes.Length);
        writer.Write(bytes);
        foreach (var piece in values)
        {
            writer.Write(System.Runtime.InteropServices.MemoryMarshal.AsBytes(piece.AsSpan()));
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

    /// <summary>Reports each header's tensor, or why it was refused.</summary>
    private sealed class Judge : ReceiveActor
    {
        public Judge(BlockingCollection<(long, float[]?, string?)> outcomes, int length)
        {
            var assembler = new ChunkAssembler(8, length);
            Receive<TensorChunk>(c => assembler.Add(Sender, c, out _, out _));
            Receive<ParametersSnapshot>(s =>
            {
                if (!assembler.TryTake(Sender, s.Length, s.TransferId, s.Weights, length, out var tensor, out var reason))
                {
                    outcomes.Add((s.Version, null, reason));
                    return;
                }
                var copy = new float[length];
                tensor.CopyTo(copy);
                outcomes.Add((s.Version, copy, null));
            });
        }
    }

    private sealed class Recorder : ReceiveActor
    {
        public Recorder(BlockingCollection<object> seen) => ReceiveAny(seen.Add);
    }

    private sealed class WarningWatch : ReceiveActor
    {
        public WarningWatch(BlockingCollection<string> warnings)
        {
            Context.System.EventStream.Subscribe(Self, typeof(Akka.Event.Warning));
            Receive<Akka.Event.Warning>(w => warnings.Add(w.Message?.ToString() ?? ""));
        }
    }
}
