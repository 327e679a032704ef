using System.Diagnostics;
using System.Numerics.Tensors;
using DistTrainer.Numerics;
using DistTrainer.Numerics.Models;
using DistTrainer.Numerics.Optimizers;

namespace DistTrainer.Cli.Bench;

/// <summary>Throughput of whole RBM training steps (CD gradient, batch mean, SGD update): the median of several rounds.</summary>
public sealed record RbmBenchResult(int Inputs, int Hidden, int Batch, int Threads, int CdSteps, double SamplesPerSecond, double StepsPerSecond);

/// <summary>
/// CD-k training throughput of <see cref="Rbm"/> on synthetic binary data (each visible unit on with its own fixed
/// probability, so the data has structure to learn), after a warm-up. The Stopwatch covers whole steps only.
/// </summary>
public static class RbmBench
{
    private const int Rounds = 5;
    private const int Pool = 8;

    public static RbmBenchResult Run(int inputs, int hidden, int batch, int threads, TimeSpan minTime, int cdSteps = 1, int seed = 0)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(inputs, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(hidden, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(batch, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(threads, 1);

        var model = new Rbm(Rbm.CreateSpec(inputs, hidden), new RbmOptions(CdSteps: cdSteps, Seed: seed));
        var weights = new float[model.ParameterCount];
        model.Initialize(weights, seed);
        var workspace = model.CreateWorkspace(batch, threads);
        var gradient = new float[model.ParameterCount];
        var optimizer = new Sgd(0.01f, 0f);

        // A pool of batches, reused round-robin; sample ids stay distinct across the pool.
        var rng = SeededRandom.For(seed, 7);
        var onProbability = new float[inputs];
        for (var i = 0; i < inputs; i++)
        {
            onProbability[i] = rng.NextFloat();
        }
        var data = new float[Pool * batch * inputs];
        for (var i = 0; i < data.Length; i++)
        {
            data[i] = rng.NextFloat() < onProbability[i % inputs] ? 1f : 0f;
        }
        var ids = Enumerable.Range(0, Pool * batch).ToArray();
        var targets = new float[batch];
        long step = 0;

        void TrainStep()
        {
            var slot = (int)(step % Pool);
            Array.Clear(gradient);
            var minibatch = new Batch(data.AsSpan(slot * batch * inputs, batch * inputs), targets, ids.AsSpan(slot * batch, batch), step);
            model.AccumulateGradient(weights, minibatch, gradient, workspace);
            TensorPrimitives.Multiply(gradient, 1f / batch, gradient);
            optimizer.Step(weights, gradient);
            step++;
        }

        // Warm-up: tiered JIT and the GEMM kernel's scratch and worker threads.
        var warmUp = Stopwatch.StartNew();
        var calls = 0;
        while (calls < 10 || warmUp.Elapsed < minTime / 10)
        {
            TrainStep();
            calls++;
        }

        var perStep = warmUp.Elapsed.TotalSeconds / calls;
        var stepsPerRound = Math.Max(1, (int)(minTime.TotalSeconds / Rounds / Math.Max(perStep, 1e-9)));
        var rates = new double[Rounds];
        for (var r = 0; r < Rounds; r++)
        {
            var start = Stopwatch.GetTimestamp();
            for (var i = 0; i < stepsPerRound; i++)
            {
                TrainStep();
            }
            rates[r] = stepsPerRound / Stopwatch.GetElapsedTime(start).TotalSeconds;
        }
        Array.Sort(rates);
        var stepsPerSecond = rates[Rounds / 2];
        return new RbmBenchResult(inputs, hidden, batch, threads, cdSteps, stepsPerSecond * batch, stepsPerSecond);
    }
}
