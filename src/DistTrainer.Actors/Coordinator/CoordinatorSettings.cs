using DistTrainer.Actors.Messages;

namespace DistTrainer.Actors.Coordinator;

/// <summary>
/// The job the coordinator drives: mode, epochs, global batch size, the seed of each epoch's order, the training-set
/// size (the coordinator never holds the training data), the model size workers must match, and how many workers
/// must register before the first step.
/// </summary>
public sealed record CoordinatorSettings(TrainingMode Mode, int Epochs, int BatchSize, int Seed, int TrainCount, int ParameterCount, int MinWorkers)
{
    public TimeSpan StepTimeout { get; init; } = DistTrainerSettings.Default.StepTimeout;

    public int MaxOpenTransfers { get; init; } = DistTrainerSettings.Default.MaxOpenTransfers;

    public int ChunkFloats { get; init; } = DistTrainerSettings.Default.ChunkFloats;

    /// <summary>Fail the job when the last worker is gone (local simulation) instead of waiting for a new one (cluster).</summary>
    public bool FailWhenNoWorkers { get; init; } = true;

    /// <summary>Send the listener a <see cref="TrainingProgress"/> after every step that is a multiple of this (0: never by count).</summary>
    public int ProgressEvery { get; init; }

    /// <summary>Also send one when this long has passed since the last (zero: never by time).</summary>
    public TimeSpan ProgressInterval { get; init; }

    public int StepsPerEpoch => (TrainCount + BatchSize - 1) / BatchSize;

    /// <summary>
    /// Hand a <see cref="CheckpointTaken"/> to the listener at each epoch end (weights and optimizer state pulled from
    /// the parameter server), and every <see cref="CheckpointEvery"/> steps in sync mode.
    /// </summary>
    public bool Checkpoints { get; init; }

    /// <summary>Sync mode: also checkpoint after every N-th optimizer step (0: at epoch ends only).</summary>
    public int CheckpointEvery { get; init; }

    /// <summary>Start from a checkpoint instead of epoch 0 with the server's initial weights.</summary>
    public ResumeFrom? Resume { get; init; }

    /// <summary>Throws <see cref="ArgumentException"/> when <see cref="Resume"/> does not fit this job (e.g. no epoch left).</summary>
    public void CheckResume()
    {
        if (Resume is not { Position: var p } resume)
        {
            return;
        }
        if (p.Epoch < 0 || p.Epoch >= Epochs)
        {
            throw new ArgumentException($"the checkpoint is at epoch {p.Epoch + 1}, outside the job's {Epochs} epochs");
        }
        if (p.BatchIndex < 0 || p.BatchIndex >= StepsPerEpoch || p.Version < 0)
        {
            throw new ArgumentException($"the checkpoint is at batch {p.BatchIndex} (step {p.Version}), outside the {StepsPerEpoch} batches of an epoch");
        }
        if (resume.Weights.Length != ParameterCount)
        {
            throw new ArgumentException($"the checkpoint holds {resume.Weights.Length} weights, the model has {ParameterCount}");
        }
    }
}

/// <summary>
/// Where a job stands between two steps: the 0-based epoch in progress, the next global batch of its order (batches
/// before it are done), the weights version (optimizer steps applied), and the epoch's summed loss and training time
/// so far. At an epoch end it is (next epoch, 0, version, 0, 0).
/// </summary>
public sealed record TrainingPosition(int Epoch, int BatchIndex, long Version, double EpochLossSum, double EpochSeconds);

/// <summary>A checkpoint to resume from: the position and the parameter server's weights and optimizer state there.</summary>
public sealed record ResumeFrom(TrainingPosition Position, float[] Weights, float[] OptimizerState);
