using Akka.Configuration;
using DistTrainer.Actors.Simulation;
using DistTrainer.Numerics.Data;
using DistTrainer.Numerics.Models;
using DistTrainer.Numerics.Optimizers;
using DistTrainer.Numerics.Training;

namespace DistTrainer.Actors.Tests;

/// <summary>An RBM through the whole protocol: CD gradients split across workers, every message serialized.</summary>
public sealed class RbmSimulationSpec
{
    // 2000-byte chunks: a 64-32 RBM (2144 floats) travels in 5 chunks.
    private static readonly Config _specConfig = ConfigurationFactory.ParseString(TestData.SpecHocon + "\ndisttrainer.chunk-size = 2000b");

    private static readonly Lazy<(Dataset Train, Dataset Test)> _digits = new(() =>
    {
        var loaded = DatasetCatalog.Load("digits");
        return RbmPipeline.ScaleToUnitInterval(loaded.Train, loaded.Test);
    });

    [Theory]
    [InlineData(1)]
    [InlineData(3)]
    public async Task Sync_rbm_training_with_three_workers_should_match_the_single_process_trainer(int cdSteps)
    {
        var spec = Rbm.CreateSpec(64, 32);
        var train = _digits.Value.Train.Select(Enumerable.Range(0, 600).ToList());
        // Batch 32 over 3 workers: parts of 11, 11 and 10 rows; 19 steps per epoch.
        var training = new TrainingOptions(2, 32, new OptimizerOptions(OptimizerKind.Sgd, 0.06f), Seed: 13);
        var rbmOptions = new RbmOptions(CdSteps: cdSteps);
        var options = new LocalSimulationOptions(spec, train, null, training, Workers: 3)
        {
            Rbm = rbmOptions,
            Config = _specConfig,
            LogLevel = "ERROR",
        };
        var result = await DistributedTraining.RunLocalAsync(options);

        var trainer = new Trainer(new Rbm(spec, rbmOptions with { Seed = training.Seed }), train, training);
        trainer.TrainEpoch(0);
        trainer.TrainEpoch(1);

        Assert.Equal(trainer.Step, result.Steps);
        Assert.Equal(38, result.Steps);
        var diff = MaxAbsDiff(trainer.Weights, result.Weights);
        Assert.True(diff <= 1e-5f, $"max abs diff {diff}");
        Assert.All(result.SamplesSeenPerEpoch, n => Assert.Equal(600, n));
    }

    [Fact]
    public async Task Sync_rbm_training_with_three_workers_should_give_the_same_weights_every_run()
    {
        var spec = Rbm.CreateSpec(64, 32);
        var train = _digits.Value.Train.Select(Enumerable.Range(0, 600).ToList());
        var training = new TrainingOptions(2, 32, new OptimizerOptions(OptimizerKind.Sgd, 0.06f), Seed: 13);
        var options = new LocalSimulationOptions(spec, train, null, training, Workers: 3) { Config = _specConfig, LogLevel = "ERROR" };
        var serialized = await DistributedTraining.RunLocalAsync(options);
        // As `train --model rbm --workers 3` runs: tensors by reference, the last part read in place.
        var byReference = await DistributedTraining.RunLocalAsync(options with
        {
            Config = ConfigurationFactory.ParseString("akka.actor.serialize-messages = off").WithFallback(_specConfig),
        });

        Assert.Equal(38, byReference.Steps);
        Assert.True(serialized.Weights.AsSpan().SequenceEqual(byReference.Weights), $"max abs diff {MaxAbsDiff(serialized.Weights, byReference.Weights)}");
    }

    [Fact]
    public async Task The_coordinator_should_report_rbm_metrics_each_epoch_and_the_test_likelihood_should_improve()
    {
        var (train, test) = _digits.Value;
        var spec = Rbm.CreateSpec(64, 50);
        var training = new TrainingOptions(3, 10, new OptimizerOptions(OptimizerKind.Sgd, 0.06f), Seed: 2);
        var options = new LocalSimulationOptions(spec, train, test, training, Workers: 2)
        {
            Config = _specConfig,
            LogLevel = "ERROR",
        };
        var result = await DistributedTraining.RunLocalAsync(options);

        Assert.Equal(3, result.Epochs.Count);
        var metrics = result.Epochs.Select(e => e.Test?.Rbm).ToArray();
        Assert.All(metrics, m => Assert.NotNull(m));
        var model = new Rbm(spec, new RbmOptions(Seed: 2));
        var expected = RbmPipeline.Measure(model, result.Weights, train, test, training.Seed, model.CreateWorkspace(256));
        Assert.Equal(expected.TestPseudoLogLikelihood, metrics[^1]!.TestPseudoLogLikelihood, 1e-9);
        Assert.Equal(expected.TestReconstructionError, result.Epochs[^1].Test!.Loss, 1e-9);
        Assert.True(metrics[^1]!.TestPseudoLogLikelihood > metrics[0]!.TestPseudoLogLikelihood - 1,
            $"test PLL {metrics[0]!.TestPseudoLogLikelihood} -> {metrics[^1]!.TestPseudoLogLikelihood}");
        Assert.True(metrics[^1]!.TestPseudoLogLikelihood > -30, $"test PLL {metrics[^1]!.TestPseudoLogLikelihood}");
    }

    private static float MaxAbsDiff(float[] a, float[] b) => a.Zip(b).Max(p => Math.Abs(p.First - p.Second));
}
