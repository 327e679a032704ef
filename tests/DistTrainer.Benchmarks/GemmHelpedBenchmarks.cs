using BenchmarkDotNet.Attributes;
using DistTrainer.Numerics.Kernels;

namespace DistTrainer.Benchmarks;

/// <summary>
/// The first layer's weight gradient of an MLP 784-256-128-10 at half of batch 256 (dW = Xᵀ·dY, 784×256×128) on one
/// thread, alone against the same product with its row blocks open to idle threads: with no thread idle (what opening
/// them costs) and with one thread waiting in <see cref="SpareThreads.Help"/> (what a simulation worker gains when its
/// peer finished first).
/// Run: dotnet run -c Release --project tests/DistTrainer.Benchmarks -- --filter '*GemmHelpedBenchmarks*'
/// </summary>
[Config(typeof(QuickConfig))]
[MemoryDiagnoser]
public class GemmHelpedBenchmarks
{
    private const int M = 784;
    private const int N = 256;
    private const int K = 128;
    private float[] _a = [];
    private float[] _b = [];
    private readonly float[] _c = new float[M * N];
    private volatile bool _stop;
    private Thread? _helper;

    [Params(false, true)]
    public bool IdleHelper { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        var random = new Random(7);
        _a = Enumerable.Range(0, K * M).Select(_ => random.NextSingle() - 0.5f).ToArray();
        _b = Enumerable.Range(0, K * N).Select(_ => random.NextSingle() - 0.5f).ToArray();
        if (IdleHelper)
        {
            _stop = false;
            _helper = new Thread(() =>
            {
                while (!_stop)
                {
                    if (!SpareThreads.Help())
                    {
                        Thread.SpinWait(20);
                    }
                }
            })
            { IsBackground = true };
            _helper.Start();
        }
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _stop = true;
        _helper?.Join();
    }

    [Benchmark(Baseline = true)]
    public void Alone() => Gemm.MultiplyTN(M, N, K, _a, _b, _c, accumulate: false);

    [Benchmark]
    public void IdleThreadsMayHelp() => Gemm.MultiplyTN(M, N, K, _a, _b, _c, accumulate: false, idleThreadsMayHelp: true);
}
