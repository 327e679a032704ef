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
    public void Gemm_should_not_allocate_after_warm_up_when_idle_threads_may_help()
    {
        RunAll(threads: 1, idleThreadsMayHelp: true);
        var before = GC.GetAllocatedBytesForCurrentThread();
        RunAll(threads: 1, idleThreadsMayHelp: true);
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
        var before = AllocatedOnCallerAndPool();
        for (var i = 0; i < 100; i++)
        {
            RunAll(threads: 2);
        }
        Assert.Equal(0, AllocatedOnCallerAndPool() - before);
    }

    /// <summary>The calling thread's counter plus the pool threads' (each publishes its own after a job; give them a moment to).</summary>
    private static long AllocatedOnCallerAndPool()
    {
        Thread.Sleep(50);
        return GC.GetAllocatedBytesForCurrentThread() + ComputePool.Shared.WorkerAllocatedBytes;
    }

    private void RunAll(int threads, bool idleThreadsMayHelp = false)
    {
        // Every MLP product at batch 128 and 256, through the public entry points.
        foreach (var batch in _batches)
        {
            Gemm.MultiplyNN(batch, 256, 784, _a, _b, _c, accumulate: false, threads);
            Gemm.MultiplyNN(batch, 128, 256, _a, _b, _c, accumulate: false, threads);
            Gemm.MultiplyNN(batch, 10, 128, _a, _b, _c, accumulate: false, threads);
            Gemm.MultiplyTN(784, 256, batch, _a, _b, _c, accumulate: true, threads, idleThreadsMayHelp);
            Gemm.MultiplyTN(256, 128, batch, _a, _b, _c, accumulate: true, threads, idleThreadsMayHelp);
            Gemm.MultiplyTN(128, 10, batch, _a, _b, _c, accumulate: true, threads);
            Gemm.MultiplyNT(batch, 256, 128, _a, _b, _c, accumulate: false, threads);
            Gemm.MultiplyNT(batch, 128, 10, _a, _b, _c, accumulate: false, threads);
        }
    }
}
