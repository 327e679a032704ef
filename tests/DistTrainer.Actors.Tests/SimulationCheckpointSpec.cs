using Akka.Configuration;
using DistTrainer.Actors.Coordinator;
using DistTrainer.Actors.Messages;
using DistTrainer.Actors.Simulation;
using DistTrainer.Numerics.Models;
using DistTrainer.Numerics.Optimizers;
using DistTrainer.Numerics.Training;

namespace DistTrainer.Actors.Tests;

/// <summary>Checkpoints handed out by the coordinator, and jobs resumed from them, in the local simulation.</summary>
public sealed class SimulationCheckpointSpec
{
    // 2000-byte chunks and every message serialized: the training state travels as it would between nodes.
    private static readonly Config _specConfig = ConfigurationFactory.ParseString(TestData.SpecHocon + "\ndisttrainer.chunk-size = 2000b");
    private static readonly int _stepsPerEpoch = (TestData.DigitsTrain.Count + 63) / 64; // 23

    [Fact]
    public async Task Sync_job_resumed_from_a_mid_epoch_checkpoint_should_reach_the_weights_of_the_uninterrupted_job()
    {
        var training = new TrainingOptions(3, 64, new OptimizerOptions(OptimizerKind.Adam, 0.005f), Seed: 11);
        var checkpoints = new List<CheckpointTaken>();
        var straight = await DistributedTraining.RunLocalAsync(Options(training, 2, TrainingMode.Sync, checkpoints, every: 10));

        // Every 10th step inside an epoch, and every epoch end (steps 23, 46, 69), in order.
        Assert.Equal([10, 20, 23, 30, 40, 46, 50, 60, 69], checkpoints.Select(c => c.Position.Version));
        Assert.Equal(new TrainingPosition(3, 0, 69, 0, 0), checkpoints[^1].Position);
        Assert.Equal(straight.Weights, checkpoints[^1].Weights);
        Assert.Equal(1 + 2 * straight.Weights.Length, checkpoints[^1].OptimizerState.Length); // Adam: t, m, v
        var mid = checkpoints.Single(c => c.Position.Version == 30);
        Assert.Equal((1, 7), (mid.Position.Epoch, mid.Position.BatchIndex));

        var resumed = await DistributedTraining.RunLocalAsync(Options(training, 2, TrainingMode.Sync, [], every: 10) with
        {
            Resume = new ResumeFrom(mid.Position, mid.Weights, mid.OptimizerState),
        });

        // Two parts per step sum the same in either order, so two workers are exact.
        Assert.Equal(straight.Weights, resumed.Weights);
        Assert.Equal(straight.Steps, resumed.Steps);
        Assert.Equal([2, 3], resumed.Epochs.Select(e => e.Epoch));
        Assert.Equal([TestData.DigitsTrain.Count, TestData.DigitsTrain.Count], resumed.SamplesSeenPerEpoch);
        Assert.Equal(straight.Epochs[1].TrainLoss, resumed.Epochs[0].TrainLoss, 9);
    }

    [Fact]
    public async Task Async_job_resumed_at_an_epoch_end_should_train_the_remaining_epochs_on_every_sample_once()
    {
        var training = new TrainingOptions(2, 64, new OptimizerOptions(OptimizerKind.Adam, 0.005f), Seed: 5);
        var checkpoints = new List<CheckpointTaken>();
        await DistributedTraining.RunLocalAsync(Options(training, 2, TrainingMode.Async, checkpoints));
        Assert.Equal([new TrainingPosition(1, 0, _stepsPerEpoch, 0, 0), new TrainingPosition(2, 0, 2 * _stepsPerEpoch, 0, 0)], checkpoints.Select(c => c.Position));

        var first = checkpoints[0];
        var resumed = await DistributedTraining.RunLocalAsync(Options(training with { Epochs = 4 }, 2, TrainingMode.Async, []) with
        {
            Resume = new ResumeFrom(first.Position, first.Weights, first.OptimizerState),
        });

        Assert.Equal([2, 3, 4], resumed.Epochs.Select(e => e.Epoch));
        Assert.All(resumed.SamplesSeenPerEpoch, n => Assert.Equal(TestData.DigitsTrain.Count, n));
        Assert.Equal(4 * _stepsPerEpoch, resumed.Steps); // the restored version counts on
    }

    [Fact]
    public async Task Checkpoint_that_does_not_fit_the_optimizer_should_fail_the_job_with_the_servers_reason()
    {
        var training = new TrainingOptions(2, 64, new OptimizerOptions(OptimizerKind.Adam, 0.005f), Seed: 5);
        var weights = new float[new Mlp(TestData.DigitsSpec(32)).ParameterCount];
        var options = Options(training, 1, TrainingMode.Sync, []) with
        {
            Resume = new ResumeFrom(new TrainingPosition(1, 0, 23, 0, 0), weights, new float[weights.Length]), // momentum-sized, not Adam's
        };

        var e = await Assert.ThrowsAsync<TrainingFailedException>(() => DistributedTraining.RunLocalAsync(options));
        Assert.Contains("did not restore the checkpoint of step 23", e.Message);
        Assert.Contains("adam", e.Message);
    }

    private static LocalSimulationOptions Options(TrainingOptions training, int workers, TrainingMode mode, List<CheckpointTaken> checkpoints, int every = 0) =>
        new(TestData.DigitsSpec(32), TestData.DigitsTrain, null, training, workers, mode)
        {
            Config = _specConfig,
            LogLevel = "ERROR",
            CheckpointEvery = every,
            OnCheckpoint = c =>
            {
                lock (checkpoints)
                {
                    checkpoints.Add(c);
                }
            },
        };
}
