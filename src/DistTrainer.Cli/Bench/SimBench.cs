using DistTrainer.Actors.Messages;
using DistTrainer.Actors.Simulation;
using DistTrainer.Numerics;
using DistTrainer.Numerics.Data;
using DistTrainer.Numerics.Models;
using DistTrainer.Numerics.Optimizers;
using DistTrainer.Numerics.Training;

namespace DistTrainer.Cli.Bench;

/// <summary>
/// `bench sim`: throughput of the actor protocol in one process on the same synthetic work as <see cref="MlpBench"/>
/// (U[0,1) inputs, random labels, plain SGD lr 0.1). The first ten epochs (1,000 steps) are warm-up: the actor path's
/// code reaches its optimized JIT tier only after about a second, and with two warm-up epochs the timed epochs still
/// sped up one after another. The result is the median samples/s of the timed epochs (each epoch's training time,
/// from its first assignment to its last applied step; evaluation is off).
/// With <c>compareWithSingleProcess</c> the same run also measures <see cref="MlpBench"/> with one thread, so the ratio
/// comes from one process on one machine state.
/// </summary>
public static class SimBench
{
    public sealed record Result(
        int Inputs,
        int[] Hidden,
        int Classes,
        int Batch,
        int Workers,
        TrainingMode Mode,
        int ThreadsPerWorker,
        double SamplesPerSecond,
        double[] EpochSamplesPerSecond,
        double[] WorkerMeanComputeMs,
        double? SingleProcessSamplesPerSecond,
        double? RatioToSingleProcess);

    public static async Task<Result> RunAsync(int inputs, int[] hidden, int classes, int batch, int workers, TrainingMode mode,
        int threadsPerWorker = 1, int stepsPerEpoch = 100, int timedEpochs = 3, int warmupEpochs = 10, bool compareWithSingleProcess = false, CancellationToken cancellationToken = default)
    {
        var samples = batch * stepsPerEpoch;
        var (x, y) = SyntheticData.Classification(samples, inputs, classes);
        var names = Enumerable.Range(0, inputs).Select(i => $"x{i}").ToArray();
        var train = new Dataset("synthetic", names, "label", TaskKind.Classification, classes, x, y);
        var spec = Mlp.CreateSpec(inputs, hidden, classes, Activation.Relu, TaskKind.Classification);
        var training = new TrainingOptions(warmupEpochs + timedEpochs, batch, new OptimizerOptions(OptimizerKind.Sgd, 0.1f), Seed: 42, Threads: threadsPerWorker);
        var options = new LocalSimulationOptions(spec, train, null, training, workers, mode) { LogLevel = "ERROR" };

        var run = await DistributedTraining.RunLocalAsync(options, null, cancellationToken).ConfigureAwait(false);
        var timed = run.Epochs.Skip(warmupEpochs).ToArray();
        var rates = timed.Select(e => e.SamplesPerSecond).ToArray();
        var compute = Enumerable.Range(0, workers)
            .Select(w => timed.SelectMany(e => e.Workers).Where(s => s.WorkerId == w && s.Parts > 0).Select(s => s.MeanComputeMs).DefaultIfEmpty(0).Average())
            .ToArray();
        var median = TrainingStepLoop.Median(rates);

        double? baseline = null;
        if (compareWithSingleProcess)
        {
            baseline = MlpBench.Run(inputs, hidden, classes, batch, threads: 1, samples: samples, reps: timedEpochs).SamplesPerSecond;
        }
        return new Result(inputs, hidden, classes, batch, workers, mode, threadsPerWorker, median, rates, compute, baseline, baseline is > 0 ? median / baseline : null);
    }
}
