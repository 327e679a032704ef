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

    [Fact]
    public async Task A_worker_node_joining_during_training_should_get_a_shard_and_work()
    {
        var evaluating = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var joined = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var job = ClusterTestNodes.DigitsJob(epochs: 4, minWorkers: 1, hidden: [32]);
        var evaluate = job.Evaluate!;
        // The first evaluation waits until the second worker has started, so it joins while training runs.
        job = job with
        {
            Evaluate = w =>
            {
                evaluating.TrySetResult();
                joined.Task.Wait(_jobTimeout);
                return evaluate(w);
            },
        };
        var coordinator = ClusterTestNodes.Coordinator(job);
        var workerA = ClusterTestNodes.Worker(coordinator);
        ClusterNode? workerB = null;
        try
        {
            await evaluating.Task.WaitAsync(_jobTimeout);
            workerB = ClusterTestNodes.Worker(coordinator);
            await WaitForWorkerActor(workerB);
            joined.SetResult();

            var outcome = await coordinator.JobOutcome!.WaitAsync(_jobTimeout);
            Assert.True(outcome.Succeeded, outcome.Failure);
            var result = outcome.Result!;
            Assert.All(result.SamplesSeenPerEpoch, n => Assert.Equal(TestData.DigitsTrain.Count, n));
            Assert.Equal(TestData.DigitsTrain.Count, result.Epochs[0].Workers.Single(w => w.Parts > 0).Samples);
            // Once joined, each worker computes exactly the rows of its half of the split, and no others.
            var half = (TestData.DigitsTrain.Count + 1) / 2;
            Assert.Equal([half, TestData.DigitsTrain.Count - half], result.Epochs[^1].Workers.Select(w => w.Samples));
        }
        finally
        {
            joined.TrySetResult();
            await ClusterTestNodes.StopAll([coordinator, workerA, .. workerB is null ? Array.Empty<ClusterNode>() : [workerB]]);
        }
    }

    /// <summary>Waits until the node's worker actor exists: its registration is then on its way to the coordinator.</summary>
    private static async Task WaitForWorkerActor(ClusterNode node)
    {
        var deadline = DateTime.UtcNow + _jobTimeout;
        while (true)
        {
            try
            {
                await node.System.ActorSelection($"/user/{CoordinatorHost.WorkerHostName}/worker-*").ResolveOne(TimeSpan.FromSeconds(1));
                return;
            }
            catch (ActorNotFoundException) when (DateTime.UtcNow < deadline)
            {
            }
        }
    }
}
