using DistTrainer.Numerics.Kernels;

namespace DistTrainer.Numerics.Tests.Kernels;

/// <summary>Process-wide allocation counts need the rest of the test run to be quiet.</summary>
[CollectionDefinition(nameof(AllocationCollection), DisableParallelization = true)]
public sealed class AllocationCollection
{
}

[Collection(nameof(AllocationCollection))]
public class GemmAllocationTests
{
    private static readonly int[] _batches = [128, 256];
    private readonly float[] _a = new float[256 * 784];
    private readonly float[] _b = new float[784 * 256];
    private readonly float[] _c = new float[784 * 256];

    [Fact]
    public void Gemm_should_not_allocate_after_warm_up_on_one_thread()
    {
        RunAll(threads: 1);
        var before = GC.GetAllocatedBytesForCurrentThread();
        RunAll(threads: 1);
        var after = GC.GetAllocatedBytesForCurrentThread();
        Assert.Equal(0, after - before);
    }

    [Fact]
    public void Gemm_should_not_allocate_after_warm_up_on_two_threads()
    {
        // Warm up until tiered compilation has settled: the runtime allocates while it re-compiles hot methods.
        for (var i = 0; i < 200; i++)
        {
            RunAll(threads: 2);
        }
        // The pool's threads are not the caller's, so this counts the whole process, where the test runner's own
        // reporting threads may allocate a few hundred bytes meanwhile. Any per-call allocation in the products
        // (at least one 24-byte object per call) would add up to far more than the bound over these 1600 calls.
        const int rounds = 100;
        var before = GC.GetTotalAllocatedBytes(precise: true);
        for (var i = 0; i < rounds; i++)
        {
            RunAll(threads: 2);
        }
        var allocated = GC.GetTotalAllocatedBytes(precise: true) - before;
        Assert.True(allocated < 4096, $"{allocated} bytes allocated over {rounds * 16} products");
    }

    private void RunAll(int threads)
    {
        // Every MLP product at batch 128 and 256, through the public entry points.
        foreach (var batch in _batches)
        {
            Gemm.MultiplyNN(batch, 256, 784, _a, _b, _c, accumulate: false, threads);
            Gemm.MultiplyNN(batch, 128, 256, _a, _b, _c, accumulate: false, threads);
            Gemm.MultiplyNN(batch, 10, 128, _a, _b, _c, accumulate: false, threads);
            Gemm.MultiplyTN(784, 256, batch, _a, _b, _c, accumulate: true, threads);
            Gemm.MultiplyTN(256, 128, batch, _a, _b, _c, accumulate: true, threads);
            Gemm.MultiplyTN(128, 10, batch, _a, _b, _c, accumulate: true, threads);
            Gemm.MultiplyNT(batch, 256, 128, _a, _b, _c, accumulate: false, threads);
            Gemm.MultiplyNT(batch, 128, 10, _a, _b, _c, accumulate: false, threads);
        }
    }
}
