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

    public int StepsPerEpoch => (TrainCount + BatchSize - 1) / BatchSize;
}
