using System.Diagnostics;
using DistTrainer.Numerics.Kernels;
using DistTrainer.Numerics.Models;
using DistTrainer.Numerics.Optimizers;

namespace DistTrainer.Cli.Bench;

/// <summary>
/// The steady-state loop behind `bench mlp` and `bench rbm`: contiguous batches taken in order from synthetic data,
/// gradient + batch mean + optimizer step, a warm-up, then several timed passes. The Stopwatch covers whole steps only,
/// never the inside of a kernel.
/// </summary>
public static class TrainingStepLoop
{
    public sealed record Measurement(double MedianSamplesPerSecond, double[] RepSamplesPerSecond, long AllocatedBytesPerStep);

    /// <param name="features">samples × model inputs, row-major.</param>
    public static Measurement Run(IModel model, float[] weights, IOptimizer optimizer, float[] features, float[] targets, int batch, int threads,
        int warmupSteps, int reps, int stepsPerRep)
    {
        var inputs = model.Spec.Inputs;
        var samples = targets.Length;
        var ids = Enumerable.Range(0, samples).ToArray();
        var gradient = new float[model.ParameterCount];
        var workspace = model.CreateWorkspace(batch, threads);
        var batches = samples / batch;
        stepsPerRep = stepsPerRep > 0 ? stepsPerRep : batches;
        long step = 0;

        void Step()
        {
            var start = (int)(step % batches) * batch;
            var b = new Batch(features.AsSpan(start * inputs, batch * inputs), targets.AsSpan(start, batch), ids.AsSpan(start, batch), step);
            model.ComputeGradient(weights, b, gradient, workspace);
            ElementWise.Scale(gradient, 1f / batch);   // cached stores, see ElementWise
            optimizer.Step(weights, gradient);
            step++;
        }

        for (var i = 0; i < warmupSteps; i++)
        {
            Step();
        }
        var rates = new double[reps];
        var allocatedBefore = GC.GetTotalAllocatedBytes(precise: true); // after the loop's own allocations
        for (var r = 0; r < reps; r++)
        {
            var started = Stopwatch.GetTimestamp();
            for (var i = 0; i < stepsPerRep; i++)
            {
                Step();
            }
            rates[r] = stepsPerRep * (double)batch / Stopwatch.GetElapsedTime(started).TotalSeconds;
        }
        var allocatedPerStep = (GC.GetTotalAllocatedBytes(precise: true) - allocatedBefore) / ((long)reps * stepsPerRep);
        return new Measurement(Median(rates), rates, allocatedPerStep);
    }

    public static double Median(double[] values)
    {
        var sorted = values.Order().ToArray();
        return sorted.Length % 2 == 1 ? sorted[sorted.Length / 2] : (sorted[sorted.Length / 2 - 1] + sorted[sorted.Length / 2]) / 2;
    }
}
