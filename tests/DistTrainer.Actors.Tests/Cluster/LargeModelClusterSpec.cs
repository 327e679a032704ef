using System.Collections.Concurrent;
using Akka.Actor;
using Akka.Cluster;
using DistTrainer.Actors.Cluster;
using DistTrainer.Numerics.Models;

namespace DistTrainer.Actors.Tests.Cluster;

/// <summary>
/// A model of more than 2,000,000 parameters (8 MB of weights, 8 MB per gradient) trains across three ActorSystems over
/// real Akka.Remote TCP with the default 128000-byte frame limit: weights and gradients travel in chunks, and the
/// cluster heartbeats keep flowing (no node is ever marked unreachable).
/// </summary>
public sealed class LargeModelClusterSpec
{
    [Theory]
    [InlineData(false)] // chunks over Akka.Remote, flow-controlled by the outbox
    [InlineData(true)]  // chunks over the bulk channel
    public async Task Two_million_parameter_model_should_train_across_nodes_without_a_bigger_frame_and_without_unreachable_nodes(bool bulk)
    {
        int[] hidden = [1400, 1400];
        var parameters = new Mlp(TestData.DigitsSpec(hidden)).ParameterCount;
        Assert.True(parameters >= 2_000_000, $"{parameters} parameters");
        var job = ClusterTestNodes.DigitsJob(epochs: 2, minWorkers: 2, hidden: hidden, lr: 0.0005f, batch: 64);
        var coordinator = ClusterTestNodes.Coordinator(job, bulk: bulk);
        var workerA = ClusterTestNodes.Worker(coordinator, bulk: bulk);
        var workerB = ClusterTestNodes.Worker(coordinator, bulk: bulk);
        var unreachable = new ConcurrentQueue<string>();
        foreach (var node in new[] { coordinator, workerA, workerB })
        {
            node.System.ActorOf(Props.Create(() => new UnreachableRecorder(unreachable)));
        }
        try
        {
            Assert.Equal(128000L, coordinator.System.Settings.Config.GetByteSize("akka.remote.dot-netty.tcp.maximum-frame-size"));
            Assert.True(DistTrainerSettings.Create(coordinator.System).ChunkBytes < 128000);

            var outcome = await coordinator.JobOutcome!.WaitAsync(TimeSpan.FromMinutes(5));

            Assert.True(outcome.Succeeded, outcome.Failure);
            Assert.Empty(unreachable);
            Assert.All(outcome.Result!.SamplesSeenPerEpoch, n => Assert.Equal(TestData.DigitsTrain.Count, n));
            Assert.All(outcome.Result.Epochs, e => Assert.Equal(0, e.RedrivenWork));
            Assert.True(outcome.Result.Epochs[^1].Test!.Accuracy >= 0.9, $"accuracy {outcome.Result.Epochs[^1].Test!.Accuracy}");
            await Task.WhenAll(coordinator.WhenTerminated, workerA.WhenTerminated, workerB.WhenTerminated).WaitAsync(TimeSpan.FromSeconds(30));
        }
        finally
        {
            await ClusterTestNodes.StopAll(coordinator, workerA, workerB);
        }
    }

    private sealed class UnreachableRecorder : ReceiveActor
    {
        public UnreachableRecorder(ConcurrentQueue<string> seen)
        {
            var cluster = Akka.Cluster.Cluster.Get(Context.System);
            Receive<ClusterEvent.UnreachableMember>(m => seen.Enqueue($"{cluster.SelfAddress} saw {m.Member.Address} unreachable"));
            Receive<ClusterEvent.IClusterDomainEvent>(_ => { });
            Receive<ClusterEvent.CurrentClusterState>(_ => { });
        }

        protected override void PreStart() =>
            Akka.Cluster.Cluster.Get(Context.System).Subscribe(Self, ClusterEvent.SubscriptionInitialStateMode.InitialStateAsEvents, typeof(ClusterEvent.UnreachableMember));
    }
}
