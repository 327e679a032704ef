using DistTrainer.Actors.Cluster;
using DistTrainer.Actors.Coordinator;
using DistTrainer.Numerics.Models;

namespace DistTrainer.Actors.Tests.Cluster;

/// <summary>
/// A coordinator node, a separate parameter-server node and a worker node over real Akka.Remote TCP: the coordinator
/// checkpoints across the network (weights + Adam state in chunks), and a new cluster resumed from a mid-epoch
/// checkpoint restores the remote parameter server and ends with the same weights as the uninterrupted job.
/// </summary>
public sealed class ClusterCheckpointSpec
{
    private static readonly TimeSpan _jobTimeout = TimeSpan.FromSeconds(120);

    [Fact]
    public async Task Cluster_job_resumed_from_a_mid_epoch_checkpoint_should_reach_the_weights_of_the_uninterrupted_job()
    {
        int[] hidden = [256]; // 19,210 parameters: weights and Adam state both travel in several chunks
        Assert.True(new Mlp(TestData.DigitsSpec(hidden)).ParameterCount > DistTrainerSettings.Default.ChunkFloats);
        var checkpoints = new List<CheckpointTaken>();
        var straight = await RunAsync(ClusterTestNodes.DigitsJob(epochs: 2, minWorkers: 1, hidden: hidden, batch: 64) with
        {
            OnCheckpoint = c => checkpoints.Add(c),
            CheckpointEvery = 10,
        });
        Assert.Equal([10, 20, 23, 30, 40, 46], checkpoints.Select(c => c.Position.Version));
        Assert.Equal(straight.Weights, checkpoints[^1].Weights);

        var mid = checkpoints.Single(c => c.Position.Version == 30);
        var resumed = await RunAsync(ClusterTestNodes.DigitsJob(epochs: 2, minWorkers: 1, hidden: hidden, batch: 64) with
        {
            Resume = new ResumeFrom(mid.Position, mid.Weights, mid.OptimizerState),
        });

        Assert.Equal(straight.Weights, resumed.Weights);
        Assert.Equal(46, resumed.Steps);
        Assert.Equal([2], resumed.Epochs.Select(e => e.Epoch));
        Assert.Equal([TestData.DigitsTrain.Count], resumed.SamplesSeenPerEpoch);
    }

    [Fact]
    public async Task Cluster_job_should_reach_the_same_weights_over_the_bulk_channel_as_over_Akka_Remote()
    {
        // The bulk channel hands the worker its weights and the server the gradient in pooled arrays kept in place,
        // where Akka.Remote's chunks are copied: the values must not differ by a bit.
        var job = ClusterTestNodes.DigitsJob(epochs: 1, minWorkers: 1, hidden: [256], batch: 64);
        var overRemote = await RunAsync(job, bulk: false);
        var overBulk = await RunAsync(job, bulk: true);

        Assert.Equal(overRemote.Steps, overBulk.Steps);
        Assert.Equal(overRemote.Weights, overBulk.Weights);
    }

    private static async Task<Simulation.DistributedTrainingResult> RunAsync(ClusterJob job, bool bulk = false)
    {
        var coordinator = ClusterNode.Start(new ClusterNodeOptions([ClusterNode.CoordinatorRole])
        {
            Host = "127.0.0.1",
            Port = 0,
            Config = ClusterTestNodes.QuietConfig(bulk: bulk),
            Job = job,
        });
        var parameterServer = ClusterNode.Start(new ClusterNodeOptions([ClusterNode.ParameterServerRole])
        {
            Host = "127.0.0.1",
            Port = 0,
            SeedNodes = [coordinator.Address.ToString()],
            Config = ClusterTestNodes.QuietConfig(bulk: bulk),
        });
        var worker = ClusterTestNodes.Worker(coordinator, bulk: bulk);
        try
        {
            var outcome = await coordinator.JobOutcome!.WaitAsync(_jobTimeout);
            Assert.True(outcome.Succeeded, outcome.Failure);
            return outcome.Result!;
        }
        finally
        {
            await ClusterTestNodes.StopAll(coordinator, parameterServer, worker);
        }
    }
}
