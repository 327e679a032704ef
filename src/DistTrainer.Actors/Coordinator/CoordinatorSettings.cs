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

    /// <summary>Fail the job when the last worker is gone (local simulation) instead of waiting for a new one (cluster).</summary>
    public bool FailWhenNoWorkers { get; init; } = true;

    /// <summary>Send the listener a <see cref="TrainingProgress"/> after every step that is a multiple of this (0: never by count).</summary>
    public int ProgressEvery { get; init; }

    /// <summary>Also send one when this long has passed since the last (zero: never by time).</summary>
    public TimeSpan ProgressInterval { get; init; }

    public int StepsPerEpoch => (TrainCount + BatchSize - 1) / BatchSize;
}
