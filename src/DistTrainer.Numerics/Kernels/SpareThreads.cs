namespace DistTrainer.Numerics.Kernels;

/// <summary>
/// Threads that would otherwise spin idle lend themselves to short passes that another thread spreads out
/// (<see cref="Optimizers.SpreadStep"/>): in a synchronous data-parallel step the parameter server's update runs while
/// the workers' threads wait for the new weights, and those threads can take part of it.
/// </summary>
public static class SpareThreads
{
    /// <summary>Called in an idle thread's wait loop: runs parts of a spread pass, if one is open. True when it ran any.</summary>
    public static bool Help() => ComputePool.Shared.Help();
}
