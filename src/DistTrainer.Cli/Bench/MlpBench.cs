using System.Diagnostics;
using DistTrainer.Numerics;
using DistTrainer.Numerics.Data;
using DistTrainer.Numerics.Kernels;
using DistTrainer.Numerics.Models;
using DistTrainer.Numerics.Optimizers;

namespace DistTrainer.Cli.Bench;

/// <summary>
/// Steady-state MLP training throughput, the same work as shared/peers/mlp_numpy.py: synthetic U[0,1) inputs and random
/// labels, contiguous batches in order, forward + backward + plain SGD (lr 0.1) on the mean gradient. Warm-up first, then
/// the median of several timed passes.
/// </summary>
public static class MlpBench
{
    public sealed record Result(int Inputs, int[] Hidden, int Classes, int Batch, int Threads, double SamplesPerSecond, double Gflops, double[] RepSamplesPerSecond, long AllocatedBytesPerStep);

    public static Result Run(int inputs, int[] hidden, int classes, int batch, int threads, int samples = 60000, int warmupSteps = 300, int reps = 5, int stepsPerRep = 0)
    {
        var spec = Mlp.CreateSpec(inputs, hidden, classes, Activation.Relu, TaskKind.Classification);
        var model = new Mlp(spec);
        var weights = new float[model.ParameterCount];
        model.Initialize(weights, seed: 42);
        var optimizer = new Sgd(0.1f, 0f);

        var (x, y) = SyntheticData.Classification(samples, inputs, classes);
        var run = TrainingStepLoop.Run(model, weights, optimizer, x, y, batch, threads, warmupSteps, reps, stepsPerRep);
        var median = run.MedianSamplesPerSecond;
        return new Result(inputs, hidden, classes, batch, threads, median, median * FlopsPerSample(inputs, hidden, classes) / 1e9, run.RepSamplesPerSecond, run.AllocatedBytesPerStep);
    }

    /// <summary>Forward and weight-gradient products for every layer, input gradients for all but the first (as the peer counts them).</summary>
    public static double FlopsPerSample(int inputs, int[] hidden, int classes)
    {
        var sizes = new[] { inputs }.Concat(hidden).Append(classes).ToArray();
        double flops = 0;
        for (var l = 0; l < sizes.Length - 1; l++)
        {
            var layer = 2.0 * sizes[l] * sizes[l + 1];
            flops += 2 * layer + (l > 0 ? layer : 0);
        }
        return flops;
    }
}
