using Akka.Actor;
using DistTrainer.Actors.Cluster;

namespace DistTrainer.Actors.Tests.Cluster;

/// <summary>Three ActorSystems on 127.0.0.1, port 0, over real Akka.Remote TCP: one coordinator + parameter server, two workers.</summary>
public sealed class ClusterTrainingSpec
{
    private static readonly TimeSpan _jobTimeout = TimeSpan.FromSeconds(120);

    [Fact]
    public async Task Three_node_cluster_should_train_digits_to_95_percent_and_every_node_should_leave()
    {
        var coordinator = ClusterTestNodes.Coordinator(ClusterTestNodes.DigitsJob(epochs: 6, minWorkers: 2, hidden: [64]));
        var workerA = ClusterTestNodes.Worker(coordinator);
        var workerB = ClusterTestNodes.Worker(coordinator);
        try
        {
            var outcome = await coordinator.JobOutcome!.WaitAsync(_jobTimeout);
            Assert.True(outcome.Succeeded, outcome.Failure);
            var result = outcome.Result!;
            Assert.Equal(6, result.Epochs.Count);
            Assert.Equal(2, result.Workers);
            Assert.All(result.SamplesSeenPerEpoch, n => Assert.Equal(TestData.DigitsTrain.Count, n));
            Assert.All(result.Epochs[^1].Workers, w => Assert.True(w.Parts > 0, $"worker {w.WorkerId} did no work"));
            Assert.True(result.Epochs[^1].Test!.Accuracy >= 0.95, $"accuracy {result.Epochs[^1].Test!.Accuracy}");

            await Task.WhenAll(coordinator.WhenTerminated, workerA.WhenTerminated, workerB.WhenTerminated).WaitAsync(TimeSpan.FromSeconds(30));
            Assert.Equal(NodeOutcomeKind.JobSucceeded, workerA.Outcome.Kind);
            Assert.Equal(NodeOutcomeKind.JobSucceeded, workerB.Outcome.Kind);
            Assert.IsType<CoordinatedShutdown.ClusterLeavingReason>(workerA.ShutdownReason);
            Assert.IsType<CoordinatedShutdown.ClusterLeavingReason>(coordinator.ShutdownReason);
        }
        finally
        {
            await ClusterTestNodes.StopAll(coordinator, workerA, workerB);
        }
    }
}
