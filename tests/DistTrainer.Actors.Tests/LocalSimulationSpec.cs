using Akka.Configuration;
using DistTrainer.Actors.Coordinator;
using DistTrainer.Actors.Messages;
using DistTrainer.Actors.Simulation;
using DistTrainer.Numerics.Data;
using DistTrainer.Numerics.Models;
using DistTrainer.Numerics.Optimizers;
using DistTrainer.Numerics.Training;

namespace DistTrainer.Actors.Tests;

/// <summary>
/// The whole protocol in one process, with every message serialized; and once as `train --workers N` runs it, with
/// tensors handed over by reference in pooled arrays.
/// </summary>
public sealed class LocalSimulationSpec
{
    // 2000-byte chunks: a 64-32-10 MLP (2410 floats) travels in 5 chunks.
    private static readonly Config _specConfig = ConfigurationFactory.ParseString(TestData.SpecHocon + "\ndisttrainer.chunk-size = 2000b");

    [Fact]
    public async Task Sync_training_with_three_workers_should_match_the_single_process_trainer()
    {
        var spec = TestData.DigitsSpec(32);
        var training = new TrainingOptions(2, 64, new OptimizerOptions(OptimizerKind.Adam, 0.005f), Seed: 11);
        var result = await DistributedTraining.RunLocalAsync(Options(spec, training, workers: 3));

        var trainer = new Trainer(new Mlp(spec), TestData.DigitsTrain, training);
        trainer.TrainEpoch(0);
        trainer.TrainEpoch(1);

        Assert.Equal(trainer.Step, result.Steps);
        Assert.True(MaxAbsDiff(trainer.Weights, result.Weights) <= 1e-5f, $"max abs diff {MaxAbsDiff(trainer.Weights, result.Weights)}");
        Assert.All(result.SamplesSeenPerEpoch, n => Assert.Equal(TestData.DigitsTrain.Count, n));
    }

    [Theory]
    [InlineData(TrainingMode.Sync, 3)]
    [InlineData(TrainingMode.Sync, 1)]
    [InlineData(TrainingMode.Async, 1)]
    public async Task Tensors_passed_by_reference_should_give_the_same_weights_as_serialized_messages(TrainingMode mode, int workers)
    {
        var spec = TestData.DigitsSpec(32);
        var training = new TrainingOptions(2, 64, new OptimizerOptions(OptimizerKind.Adam, 0.005f), Seed: 11);
        var serialized = await DistributedTraining.RunLocalAsync(Options(spec, training, workers, mode));
        var byReference = await DistributedTraining.RunLocalAsync(Options(spec, training, workers, mode) with
        {
            Config = ConfigurationFactory.ParseString("akka.actor.serialize-messages = off").WithFallback(_specConfig),
        });

        Assert.Equal(serialized.Steps, byReference.Steps);
        // The server sums a sync step's parts in part order, whatever order they arrive in: the same floats every run.
        Assert.True(serialized.Weights.AsSpan().SequenceEqual(byReference.Weights), $"max abs diff {MaxAbsDiff(serialized.Weights, byReference.Weights)}");
        Assert.All(byReference.SamplesSeenPerEpoch, n => Assert.Equal(TestData.DigitsTrain.Count, n));
    }

    [Fact]
    public async Task A_worker_crash_in_epoch_2_of_6_should_lose_no_sample_and_still_learn_digits()
    {
        var spec = TestData.DigitsSpec(64);
        var training = new TrainingOptions(6, 32, new OptimizerOptions(OptimizerKind.Adam, 0.005f), Seed: 3);
        var reports = new List<EpochReport>();
        var options = Options(spec, training, workers: 3) with { Test = TestData.DigitsTest };
        options = options with { Crashes = [new CrashWorker(1, 2)] };
        var result = await DistributedTraining.RunLocalAsync(options, new SyncProgress(reports.Add));

        Assert.Equal(6, result.Epochs.Count);
        Assert.Equal(Enumerable.Repeat(TestData.DigitsTrain.Count, 6), result.SamplesSeenPerEpoch);
        Assert.All(result.Epochs, e => Assert.Equal(0, e.DuplicateSamples));
        Assert.True(result.Epochs[1].RedrivenWork >= 1);
        Assert.False(result.Epochs[1].Workers.Single(w => w.WorkerId == 1).Alive);
        Assert.Equal(2, result.Epochs[2].Workers.Count(w => w.Parts > 0));
        Assert.True(result.Epochs[^1].Test!.Accuracy >= 0.96, $"accuracy {result.Epochs[^1].Test!.Accuracy}");
        Assert.Equal(6, reports.Count);
    }

    [Fact]
    public async Task A_straggler_past_the_step_timeout_should_be_redriven_without_double_counting()
    {
        var spec = TestData.DigitsSpec(32);
        var train = TestData.DigitsTrain.Select(Enumerable.Range(0, 240).ToList());
        var training = new TrainingOptions(1, 60, new OptimizerOptions(OptimizerKind.Momentum, 0.05f), Seed: 5);
        var options = Options(spec, training, workers: 2) with
        {
            Train = train,
            Stragglers = [new Straggler(1, 600)],
            StepTimeout = TimeSpan.FromMilliseconds(200),
        };
        var result = await DistributedTraining.RunLocalAsync(options);

        var trainer = new Trainer(new Mlp(spec), train, training);
        trainer.TrainEpoch(0);
        Assert.Equal([240], result.SamplesSeenPerEpoch);
        Assert.True(result.Epochs[0].RedrivenWork >= 1);
        Assert.True(MaxAbsDiff(trainer.Weights, result.Weights) <= 1e-5f, $"max abs diff {MaxAbsDiff(trainer.Weights, result.Weights)}");
    }

    [Fact]
    public async Task Async_training_should_use_every_sample_once_per_epoch_and_learn()
    {
        var spec = TestData.DigitsSpec(64);
        var training = new TrainingOptions(3, 32, new OptimizerOptions(OptimizerKind.Adam, 0.005f), Seed: 8);
        var options = Options(spec, training, workers: 2, TrainingMode.Async) with { Test = TestData.DigitsTest };
        var result = await DistributedTraining.RunLocalAsync(options);

        Assert.Equal(Enumerable.Repeat(TestData.DigitsTrain.Count, 3), result.SamplesSeenPerEpoch);
        Assert.Equal(3 * ((TestData.DigitsTrain.Count + 31) / 32), result.Steps);
        Assert.True(result.Epochs[^1].Test!.Accuracy >= 0.9, $"accuracy {result.Epochs[^1].Test!.Accuracy}");
    }

    [Fact]
    public async Task Async_training_should_hand_a_crashed_workers_batches_to_a_survivor_and_use_every_sample_once()
    {
        var spec = TestData.DigitsSpec(32);
        var training = new TrainingOptions(3, 32, new OptimizerOptions(OptimizerKind.Adam, 0.005f), Seed: 8);
        var options = Options(spec, training, workers: 3, TrainingMode.Async) with { Crashes = [new CrashWorker(1, 2)] };
        var result = await DistributedTraining.RunLocalAsync(options);

        Assert.Equal(Enumerable.Repeat(TestData.DigitsTrain.Count, 3), result.SamplesSeenPerEpoch);
        Assert.All(result.Epochs, e => Assert.Equal(0, e.DuplicateSamples));
        Assert.True(result.Epochs[1].RedrivenWork >= 1);
        Assert.Equal(2, result.Epochs[2].Workers.Count(w => w.Parts > 0));
        Assert.Equal(3 * ((TestData.DigitsTrain.Count + 31) / 32), result.Steps);
    }

    private static LocalSimulationOptions Options(ModelSpec spec, TrainingOptions training, int workers, TrainingMode mode = TrainingMode.Sync) =>
        new(spec, TestData.DigitsTrain, null, training, workers, mode) { Config = _specConfig, LogLevel = "ERROR" };

    private static float MaxAbsDiff(float[] a, float[] b) => a.Zip(b).Max(p => Math.Abs(p.First - p.Second));

    /// <summary>Reports synchronously (Progress&lt;T&gt; would post to the thread pool).</summary>
    private sealed class SyncProgress(Action<EpochReport> report) : IProgress<EpochReport>
    {
        public void Report(EpochReport value)
        {
            lock (this)
            {
                report(value);
            }
        }
    }
}
