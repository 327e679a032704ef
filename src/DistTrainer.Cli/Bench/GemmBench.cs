using System.Diagnostics;
using DistTrainer.Numerics.Kernels;

namespace DistTrainer.Cli.Bench;

/// <summary>One measured product: C(M,N) = op(A)(M,K) · op(B)(K,N), at <see cref="Gflops"/> (2·M·N·K flops per call).</summary>
public sealed record GemmBenchRow(string Name, int M, int N, int K, double Gflops);

/// <summary>
/// GFLOP/s of <see cref="Gemm"/> on the products one MLP training step runs: per layer the forward product (NN),
/// the weight gradient (TN) and, for every layer but the first, the input gradient (NT).
/// </summary>
public static class GemmBench
{
    private const int Rounds = 5;

    public static IReadOnlyList<GemmBenchRow> Run(int batch, int[] layerSizes, int threads, TimeSpan minTimePerShape)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(batch, 1);
        ArgumentNullException.ThrowIfNull(layerSizes);
        ArgumentOutOfRangeException.ThrowIfLessThan(layerSizes.Length, 2);
        ArgumentOutOfRangeException.ThrowIfLessThan(threads, 1);

        var rows = new List<GemmBenchRow>();
        for (var l = 0; l + 1 < layerSizes.Length; l++)
        {
            int fanIn = layerSizes[l], fanOut = layerSizes[l + 1];
            var layer = $"fc{l + 1}";
            // Y(B,out) = X(B,in) · W(in,out)
            rows.Add(Measure($"{layer}.forward NN {batch}x{fanOut}x{fanIn}", Kind.NN, batch, fanOut, fanIn, threads, minTimePerShape));
            // dW(in,out) += X(B,in)ᵀ · dY(B,out)
            rows.Add(Measure($"{layer}.weight-grad TN {fanIn}x{fanOut}x{batch}", Kind.TN, fanIn, fanOut, batch, threads, minTimePerShape));
            if (l > 0)
            {
                // dX(B,in) = dY(B,out) · W(in,out)ᵀ; the first layer's input gradient is never needed.
                rows.Add(Measure($"{layer}.input-grad NT {batch}x{fanIn}x{fanOut}", Kind.NT, batch, fanIn, fanOut, threads, minTimePerShape));
            }
        }
        return rows;
    }

    private enum Kind
    {
        NN,
        TN,
        NT,
    }

    private static GemmBenchRow Measure(string name, Kind kind, int m, int n, int k, int threads, TimeSpan minTime)
    {
        var random = new Random(12345);
        var a = RandomArray(random, m * k);
        var b = RandomArray(random, k * n);
        var c = new float[m * n];
        var flopsPerCall = 2.0 * m * n * k;

        // Warm-up: tiered JIT, scratch buffers, worker threads.
        var warmUp = Stopwatch.StartNew();
        var calls = 0;
        while (calls < 10 || warmUp.Elapsed < minTime / 10)
        {
            Call(kind, m, n, k, a, b, c, threads);
            calls++;
        }

        // Calls per round so that one round takes about a fifth of the budget.
        var perCall = warmUp.Elapsed.TotalSeconds / calls;
        var callsPerRound = Math.Max(1, (int)(minTime.TotalSeconds / Rounds / Math.Max(perCall, 1e-9)));
        var rates = new double[Rounds];
        for (var r = 0; r < Rounds; r++)
        {
            var start = Stopwatch.GetTimestamp();
            for (var i = 0; i < callsPerRound; i++)
            {
                Call(kind, m, n, k, a, b, c, threads);
            }
            var seconds = Stopwatch.GetElapsedTime(start).TotalSeconds;
            rates[r] = flopsPerCall * callsPerRound / seconds / 1e9;
        }
        Array.Sort(rates);
        return new GemmBenchRow(name, m, n, k, rates[Rounds / 2]);
    }

    private static void Call(Kind kind, int m, int n, int k, float[] a, float[] b, float[] c, int threads)
    {
        switch (kind)
        {
            case Kind.NN:
                Gemm.MultiplyNN(m, n, k, a, b, c, accumulate: false, threads);
                break;
            case Kind.TN:
                Gemm.MultiplyTN(m, n, k, a, b, c, accumulate: false, threads);
                break;
            default:
                Gemm.MultiplyNT(m, n, k, a, b, c, accumulate: false, threads);
                break;
        }
    }

    private static float[] RandomArray(Random random, int length)
    {
        var x = new float[length];
        for (var i = 0; i < x.Length; i++)
        {
            x[i] = (float)(random.NextDouble() * 2 - 1);
        }
        return x;
    }
}
