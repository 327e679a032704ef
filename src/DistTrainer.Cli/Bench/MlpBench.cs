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

    public static Result Run(int inputs, int[] hidden, int classes, int batch, int threads, int samples = 60000, int warmupSteps = 50, int reps = 5, int stepsPerRep = 0)
    {
        var spec = Mlp.CreateSpec(inputs, hidden, classes, Activation.Relu, TaskKind.Classification);
        var model = new Mlp(spec);
        var weights = new float[model.ParameterCount];
        model.Initialize(weights, seed: 42);
        var gradient = new float[model.ParameterCount];
        var optimizer = new Sgd(0.1f, 0f);
        var workspace = model.CreateWorkspace(batch, threads);

        var rng = new SeededRandom(42);
        var x = new float[samples * inputs];
        for (var i = 0; i < x.Length; i++)
        {
            x[i] = rng.NextFloat();
        }
        var y = new float[samples];
        var ids = new int[samples];
        for (var i = 0; i < samples; i++)
        {
            y[i] = rng.NextInt(classes);
            ids[i] = i;
        }
        var batches = samples / batch;
        stepsPerRep = stepsPerRep > 0 ? stepsPerRep : batches;
        long step = 0;

        void Step()
        {
            var start = (int)(step % batches) * batch;
            Array.Clear(gradient);
            var b = new Batch(x.AsSpan(start * inputs, batch * inputs), y.AsSpan(start, batch), ids.AsSpan(start, batch), step);
            model.AccumulateGradient(weights, b, gradient, workspace);
            ElementWise.Scale(gradient, 1f / batch);   // cached stores, see ElementWise
            optimizer.Step(weights, gradient);
            step++;
        }

        for (var i = 0; i < warmupSteps; i++)
        {
            Step();
        }
        var allocatedBefore = GC.GetTotalAllocatedBytes(precise: true);
        var rates = new double[reps];
        for (var r = 0; r < reps; r++)
        {
            var clock = Stopwatch.StartNew();
            for (var i = 0; i < stepsPerRep; i++)
            {
                Step();
            }
            rates[r] = stepsPerRep * (double)batch / clock.Elapsed.TotalSeconds;
        }
        var allocatedPerStep = (GC.GetTotalAllocatedBytes(precise: true) - allocatedBefore) / ((long)reps * stepsPerRep);
        var median = Median(rates);
        return new Result(inputs, hidden, classes, batch, threads, median, median * FlopsPerSample(inputs, hidden, classes) / 1e9, rates, allocatedPerStep);
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

    internal static double Median(double[] values)
    {
        var sorted = values.Order().ToArray();
        return sorted.Length % 2 == 1 ? sorted[sorted.Length / 2] : (sorted[sorted.Length / 2 - 1] + sorted[sorted.Length / 2]) / 2;
    }
}
