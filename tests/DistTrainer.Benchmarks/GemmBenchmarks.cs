using BenchmarkDotNet.Attributes;
using DistTrainer.Numerics.Kernels;

namespace DistTrainer.Benchmarks;

/// <summary>
/// The matrix products of one training step of an MLP 784-256-128-10 at batch 128, each against the scalar
/// reference in the same run, so the report's Ratio column is the speed-up.
/// Run: dotnet run -c Release --project tests/DistTrainer.Benchmarks -- --filter '*GemmBenchmarks*'
/// </summary>
[Config(typeof(QuickConfig))]
[MemoryDiagnoser]
public class GemmBenchmarks
{
    private float[] _a = [];
    private float[] _b = [];
    private float[] _c = [];
    private string _op = "";
    private int _m;
    private int _n;
    private int _k;

    /// <summary>
    /// Layer, product, then M×N×K of C(M,N) = op(A)(M,K)·op(B)(K,N): fwd is X·W (NN), dW is Xᵀ·dY (TN), dX is dY·Wᵀ (NT).
    /// Short enough that the summary table does not truncate it.
    /// </summary>
    [Params(
        "fc1.fwd 128x256x784",
        "fc1.dW 784x256x128",
        "fc2.fwd 128x128x256",
        "fc2.dW 256x128x128",
        "fc2.dX 128x256x128",
        "fc3.fwd 128x10x128",
        "fc3.dW 128x10x128",
        "fc3.dX 128x128x10")]
    public string Shape { get; set; } = "";

    [GlobalSetup]
    public void Setup()
    {
        var parts = Shape.Split(' ');
        _op = parts[0].Split('.')[1] switch { "fwd" => "NN", "dW" => "TN", _ => "NT" };
        var dims = parts[1].Split('x').Select(int.Parse).ToArray();
        (_m, _n, _k) = (dims[0], dims[1], dims[2]);
        var random = new Random(7);
        _a = Enumerable.Range(0, _m * _k).Select(_ => random.NextSingle() - 0.5f).ToArray();
        _b = Enumerable.Range(0, _k * _n).Select(_ => random.NextSingle() - 0.5f).ToArray();
        _c = new float[_m * _n];
    }

    [Benchmark(Baseline = true)]
    public void Reference()
    {
        switch (_op)
        {
            case "NN":
                GemmReference.MultiplyNN(_m, _n, _k, _a, _b, _c, accumulate: false);
                break;
            case "TN":
                GemmReference.MultiplyTN(_m, _n, _k, _a, _b, _c, accumulate: false);
                break;
            default:
                GemmReference.MultiplyNT(_m, _n, _k, _a, _b, _c, accumulate: false);
                break;
        }
    }

    [Benchmark]
    public void Simd1Thread() => Run(1);

    [Benchmark]
    public void Simd2Threads() => Run(2);

    /// <summary>A short run in this process: no generated project to build, so a rerun takes a couple of minutes.</summary>

    private void Run(int threads)
    {
        switch (_op)
        {
            case "NN":
                Gemm.MultiplyNN(_m, _n, _k, _a, _b, _c, accumulate: false, threads);
                break;
            case "TN":
                Gemm.MultiplyTN(_m, _n, _k, _a, _b, _c, accumulate: false, threads);
                break;
            default:
                Gemm.MultiplyNT(_m, _n, _k, _a, _b, _c, accumulate: false, threads);
                break;
        }
    }
}
