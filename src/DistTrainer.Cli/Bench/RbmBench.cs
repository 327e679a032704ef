using System.Diagnostics;
using System.Numerics.Tensors;
using DistTrainer.Numerics;
using DistTrainer.Numerics.Models;
using DistTrainer.Numerics.Optimizers;

namespace DistTrainer.Cli.Bench;

/// <summary>
/// Steady-state CD-k training throughput of <see cref="Rbm"/>: synthetic binary data (each visible unit on with its own
/// fixed probability, so there is structure to learn), contiguous batches in order, CD gradient + batch mean + plain SGD
/// (lr 0.01). Warm-up first, then the median of several timed passes; the Stopwatch covers whole steps only.
/// </summary>
public static class RbmBench
{
    public sealed record Result(
        int Inputs, int Hidden, int Batch, int Threads, int CdSteps, double SamplesPerSecond, double Gflops,
        double[] RepSamplesPerSecond, long AllocatedBytesPerStep);

    public static Result Run(
        int inputs, int hidden, int batch, int threads, int cdSteps = 1, int samples = 8192, int warmupSteps = 50, int reps = 5,
        int stepsPerRep = 0, int seed = 42)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(inputs, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(hidden, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(batch, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(threads, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(reps, 1);

        var model = new Rbm(Rbm.CreateSpec(inputs, hidden), new RbmOptions(CdSteps: cdSteps, Seed: seed));
        var weights = new float[model.ParameterCount];
        model.Initialize(weights, seed);
        var optimizer = new Sgd(0.01f, 0f);

        samples = Math.Max(samples, batch);
        var rng = SeededRandom.For(seed, 7);
        var onProbability = new float[inputs];
        for (var i = 0; i < inputs; i++)
        {
            onProbability[i] = rng.NextFloat();
        }
        var x = new float[samples * inputs];
        for (var i = 0; i < x.Length; i++)
        {
            x[i] = rng.NextFloat() < onProbability[i % inputs] ? 1f : 0f;
        }
        var run = TrainingStepLoop.Run(model, weights, optimizer, x, new float[samples], batch, threads, warmupSteps, reps, stepsPerRep);
        var median = run.MedianSamplesPerSecond;
        return new Result(inputs, hidden, batch, threads, cdSteps, median, median * FlopsPerSample(inputs, hidden, cdSteps) / 1e9, run.RepSamplesPerSecond, run.AllocatedBytesPerStep);
    }

    /// <summary>
    /// Matrix-product flops per sample of CD-k: P(h|v⁰) and the reconstruction P(v|h⁰), then per further Gibbs step
    /// P(h|v) (and P(v|h) for all but the first), and the stacked weight gradient (two V×H outer products).
    /// </summary>
    public static double FlopsPerSample(int inputs, int hidden, int cdSteps)
    {
        var product = 2.0 * inputs * hidden;
        return product * (2 + cdSteps + (cdSteps - 1) + 2);
    }
}
