using DistTrainer.Numerics.Kernels;

namespace DistTrainer.Numerics.Tests.Kernels;

public class GemmTests
{
    // Float sums over k <= 784 in a different order than the reference: allow 1e-4 relative to the
    // magnitude of the terms (sum of |a·b|), which bounds the rounding of any summation order.
    private const double RelativeTolerance = 1e-4;

    private static readonly int[] _awkward = [1, 7, 17, 33, 257];

    public enum Op
    {
        NN,
        TN,
        NT,
    }

    public static TheoryData<int, int, int> AwkwardShapes()
    {
        var data = new TheoryData<int, int, int>();
        foreach (var m in _awkward)
        {
            foreach (var n in _awkward)
            {
                foreach (var k in _awkward)
                {
                    data.Add(m, n, k);
                }
            }
        }
        data.Add(130, 300, 70);
        data.Add(600, 40, 300);
        data.Add(145, 513, 600);
        data.Add(128, 10, 128);
        data.Add(128, 128, 10);
        data.Add(784, 256, 128);
        return data;
    }

    // Path names rather than the internal enum: xunit theories must be public.
    public static TheoryData<string, int> Paths() => new()
    {
        { nameof(GemmPath.Vector512), 1 },
        { nameof(GemmPath.Vector512), 2 },
        { nameof(GemmPath.Vector256), 1 },
        { nameof(GemmPath.Vector256), 2 },
        { nameof(GemmPath.Scalar), 1 },
        { nameof(GemmPath.Scalar), 2 },
    };

    [Theory]
    [MemberData(nameof(AwkwardShapes))]
    public void Gemm_should_match_reference_for_awkward_shapes(int m, int n, int k)
    {
        foreach (var op in new[] { Op.NN, Op.TN, Op.NT })
        {
            foreach (var accumulate in new[] { false, true })
            {
                foreach (var threads in new[] { 1, 2 })
                {
                    AssertMatchesReference(op, m, n, k, accumulate, threads, GemmPath.Auto);
                }
            }
        }
    }

    [Theory]
    [MemberData(nameof(Paths))]
    public void Every_kernel_path_should_match_reference(string pathName, int threads)
    {
        var path = Enum.Parse<GemmPath>(pathName);
        int[] sizes = [1, 7, 17, 33, 70];
        foreach (var op in new[] { Op.NN, Op.TN, Op.NT })
        {
            foreach (var m in sizes)
            {
                foreach (var n in sizes)
                {
                    foreach (var k in sizes)
                    {
                        AssertMatchesReference(op, m, n, k, accumulate: (m + n + k) % 2 == 0, threads, path);
                    }
                }
            }
            AssertMatchesReference(op, 130, 300, 270, accumulate: true, threads, path);
        }
    }

    [Fact]
    public void Public_products_should_match_reference_on_mlp_shapes()
    {
        foreach (var threads in new[] { 1, 2 })
        {
            // Forward, weight gradient and input gradient of a 784-256-128-10 MLP at batch 128.
            Check(Op.NN, 128, 256, 784, threads);
            Check(Op.NN, 128, 10, 128, threads);
            Check(Op.TN, 784, 256, 128, threads);
            Check(Op.TN, 128, 10, 128, threads);
            Check(Op.NT, 128, 256, 128, threads);
            Check(Op.NT, 128, 128, 10, threads);
        }

        static void Check(Op op, int m, int n, int k, int threads)
        {
            var (a, b, c) = Operands(m, n, k, seed: m + n + k);
            var expected = (float[])c.Clone();
            Reference(op, m, n, k, a, b, expected, accumulate: true);
            switch (op)
            {
                case Op.NN:
                    Gemm.MultiplyNN(m, n, k, a, b, c, accumulate: true, threads);
                    break;
                case Op.TN:
                    Gemm.MultiplyTN(m, n, k, a, b, c, accumulate: true, threads);
                    break;
                default:
                    Gemm.MultiplyNT(m, n, k, a, b, c, accumulate: true, threads);
                    break;
            }
            AssertClose(op, m, n, k, a, b, expected, c);
        }
    }

    [Fact]
    public void Gemm_should_give_correct_results_to_concurrent_callers()
    {
        const int callers = 6;
        var failures = new string?[callers];
        var start = new Barrier(callers);
        var workers = Enumerable.Range(0, callers).Select(t => new Thread(() =>
        {
            try
            {
                start.SignalAndWait();
                for (var round = 0; round < 8; round++)
                {
                    // Different shapes per caller so a shared buffer would show up as wrong numbers.
                    var m = 40 + 13 * t;
                    var n = 50 + 7 * round;
                    var k = 300 + 11 * t;
                    var op = (Op)((t + round) % 3);
                    // Two of the callers also ask for two threads while the others run on one.
                    AssertMatchesReference(op, m, n, k, accumulate: round % 2 == 0, threads: t % 3 == 0 ? 2 : 1, GemmPath.Auto);
                }
            }
            catch (Exception e)
            {
                failures[t] = e.Message;
            }
        })).ToArray();
        foreach (var w in workers)
        {
            w.Start();
        }
        foreach (var w in workers)
        {
            w.Join();
        }
        Assert.All(failures, f => Assert.Null(f));
    }

    [Fact]
    public void Gemm_should_clear_or_keep_c_when_k_is_zero()
    {
        var c = new float[] { 1, 2, 3, 4, 5, 6 };
        Gemm.MultiplyNN(2, 3, 0, [], [], c, accumulate: true);
        Assert.Equal([1, 2, 3, 4, 5, 6], c);
        Gemm.MultiplyNN(2, 3, 0, [], [], c, accumulate: false);
        Assert.All(c, x => Assert.Equal(0f, x));
    }

    [Fact]
    public void Gemm_should_reject_operands_shorter_than_their_shape()
    {
        var a = new float[6];
        var b = new float[6];
        Assert.Throws<ArgumentException>(() => Gemm.MultiplyNN(2, 3, 3, a, b, new float[5], accumulate: false));
        Assert.Throws<ArgumentException>(() => Gemm.MultiplyTN(3, 2, 3, new float[8], b, new float[6], accumulate: false));
        Assert.Throws<ArgumentException>(() => Gemm.MultiplyNT(2, 3, 3, a, new float[8], new float[6], accumulate: false));
    }

    internal static void AssertMatchesReference(Op op, int m, int n, int k, bool accumulate, int threads, GemmPath path)
    {
        var (a, b, c) = Operands(m, n, k, seed: m * 31 + n * 7 + k + (int)op);
        var expected = (float[])c.Clone();
        Reference(op, m, n, k, a, b, expected, accumulate);
        Gemm.Multiply(op == Op.TN, op == Op.NT, m, n, k, a, b, c, accumulate, threads, path);
        AssertClose(op, m, n, k, a, b, expected, c, $" ({path}, accumulate={accumulate}, threads={threads})");
    }

    private static (float[] A, float[] B, float[] C) Operands(int m, int n, int k, int seed)
    {
        var random = new Random(seed);
        static float[] Fill(Random r, int length)
        {
            var x = new float[length];
            for (var i = 0; i < x.Length; i++)
            {
                x[i] = (float)(r.NextDouble() * 2 - 1);
            }
            return x;
        }
        return (Fill(random, m * k), Fill(random, k * n), Fill(random, m * n));
    }

    private static void Reference(Op op, int m, int n, int k, float[] a, float[] b, float[] c, bool accumulate)
    {
        switch (op)
        {
            case Op.NN:
                GemmReference.MultiplyNN(m, n, k, a, b, c, accumulate);
                break;
            case Op.TN:
                GemmReference.MultiplyTN(m, n, k, a, b, c, accumulate);
                break;
            default:
                GemmReference.MultiplyNT(m, n, k, a, b, c, accumulate);
                break;
        }
    }

    private static void AssertClose(Op op, int m, int n, int k, float[] a, float[] b, float[] expected, float[] actual, string context = "")
    {
        for (var i = 0; i < m; i++)
        {
            for (var j = 0; j < n; j++)
            {
                // Scale: the sum of the absolute terms, plus the prior C value for accumulation.
                var scale = Math.Abs((double)expected[i * n + j]) + 1.0;
                for (var p = 0; p < k; p++)
                {
                    var av = op == Op.TN ? a[p * m + i] : a[i * k + p];
                    var bv = op == Op.NT ? b[j * k + p] : b[p * n + j];
                    scale += Math.Abs((double)av * bv);
                }
                var error = Math.Abs((double)expected[i * n + j] - actual[i * n + j]);
                if (error > RelativeTolerance * scale)
                {
                    Assert.Fail($"{op} {m}x{n}x{k}{context}: C[{i},{j}] = {actual[i * n + j]}, reference {expected[i * n + j]}");
                }
            }
        }
    }
}
