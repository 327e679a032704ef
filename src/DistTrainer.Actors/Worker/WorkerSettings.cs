using DistTrainer.Numerics.Models;

namespace DistTrainer.Actors.Worker;

/// <summary>
/// What one worker needs besides its data: its id, the model shape, the largest piece of a batch it may be given,
/// compute threads, and fault injection (<see cref="MessageDelay"/> for a straggler, in a simulation or on a worker node;
/// <see cref="CrashAt"/> to stop itself, in a simulation).
/// </summary>
public sealed record WorkerSettings(int WorkerId, ModelSpec Model, int MaxBatch, int Threads = 1)
{
    /// <summary>
    /// How an RBM estimates its gradient (CD steps, persistent chains, sampling seed); null for an MLP. It must be the
    /// same on every worker of a job: with plain CD the seeded sampling then makes a split batch equal the whole batch.
    /// </summary>
    public RbmOptions? Rbm { get; init; }

    /// <summary>Delay before each gradient push leaves the worker (simulates a slow link or node).</summary>
    public TimeSpan MessageDelay { get; init; } = TimeSpan.Zero;

    /// <summary>The worker stops itself, without answering, at its first work of this epoch at or after this batch index.</summary>
    public CrashPoint? CrashAt { get; init; }

    /// <summary>
    /// Check the gradient for NaN and infinity on this worker's thread before pushing it to a parameter server in this
    /// process, which then skips its own pass. The simulation sets it for workers that do not share the server's
    /// thread: in a sync step the server's thread is the busiest one, and this worker's thread waits anyway.
    /// </summary>
    public bool ChecksOwnGradient { get; init; }

    /// <summary>
    /// Gather the next assignment's rows as soon as it is here, while the step's weights are still being computed. The
    /// simulation turns it off for the worker that shares the parameter server's thread: there the gather would hold
    /// back the server's step, which the other workers wait for.
    /// </summary>
    public bool PreparesAhead { get; init; } = true;

    /// <summary>
    /// Let threads that idle in <see cref="Numerics.Kernels.SpareThreads.Help"/> take row blocks of this MLP worker's
    /// weight-gradient products (<see cref="Numerics.Models.ModelWorkspace.IdleThreadsMayHelp"/>). The simulation sets it
    /// for sync workers: the part with more rows, or on a slower core, then ends sooner, because a worker that finished
    /// first helps it instead of waiting for the step's weights.
    /// </summary>
    public bool IdleThreadsMayHelp { get; init; }

    public int ChunkFloats { get; init; } = DistTrainerSettings.Default.ChunkFloats;

    public int MaxOpenTransfers { get; init; } = DistTrainerSettings.Default.MaxOpenTransfers;
}

/// <summary>A simulated crash: the 0-based epoch and the first batch index inside it at which the worker dies.</summary>
public readonly record struct CrashPoint(int Epoch, int BatchIndex);
