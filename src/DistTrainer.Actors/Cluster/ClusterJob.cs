using DistTrainer.Actors.Coordinator;
using DistTrainer.Actors.Simulation;
using DistTrainer.Numerics.Training;

namespace DistTrainer.Actors.Cluster;

/// <summary>
/// The job a coordinator node runs: its <see cref="Spec"/> (sent to the other nodes), the test-set evaluation, how many
/// workers must be Up before the first step, and where progress and the result go. Local to the coordinator node.
/// </summary>
public sealed record ClusterJob(JobSpec Spec, int TrainCount, int MinWorkers, Func<float[], Evaluation>? Evaluate)
{
    /// <summary>Each epoch's report, on an actor thread.</summary>
    public IProgress<EpochReport>? Progress { get; init; }

    /// <summary>
    /// The coordinator's <see cref="TrainingProgress"/> (on an actor thread) after every step that is a multiple of
    /// <see cref="ProgressEvery"/> and whenever <see cref="ProgressInterval"/> has passed; null: none.
    /// </summary>
    public IProgress<TrainingProgress>? StepProgress { get; init; }

    public int ProgressEvery { get; init; }

    public TimeSpan ProgressInterval { get; init; } = TimeSpan.FromMilliseconds(100);

    public TimeSpan? StepTimeout { get; init; }

    /// <summary>
    /// Receives a checkpoint at every epoch end and, in sync mode, every <see cref="CheckpointEvery"/> steps, on an actor
    /// thread and in order (file IO belongs on another thread). Null: no checkpoints are taken.
    /// </summary>
    public Action<CheckpointTaken>? OnCheckpoint { get; init; }

    public int CheckpointEvery { get; init; }

    /// <summary>Continue from a checkpoint: the coordinator restores the parameter server to it before the first step.</summary>
    public ResumeFrom? Resume { get; init; }

    /// <summary>How long the coordinator waits for the other nodes to leave after the job before it leaves itself.</summary>
    public TimeSpan LeaveTimeout { get; init; } = TimeSpan.FromSeconds(20);
}

/// <summary>The end of a job as the coordinator saw it: the result, or why it failed.</summary>
public sealed record ClusterJobOutcome(DistributedTrainingResult? Result, string? Failure)
{
    public bool Succeeded => Result is not null;
}
