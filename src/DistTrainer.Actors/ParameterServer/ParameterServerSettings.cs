using DistTrainer.Actors.Messages;
using DistTrainer.Numerics.Optimizers;

namespace DistTrainer.Actors.ParameterServer;

/// <summary>How the parameter server combines gradients and which optimizer it runs.</summary>
public sealed record ParameterServerSettings(TrainingMode Mode, OptimizerOptions Optimizer)
{
    public int ChunkFloats { get; init; } = DistTrainerSettings.Default.ChunkFloats;

    public int MaxOpenTransfers { get; init; } = DistTrainerSettings.Default.MaxOpenTransfers;

    /// <summary>Async mode remembers this many completed (step, part) keys to refuse duplicates.</summary>
    public int CompletedWorkMemory { get; init; } = 1 << 16;
}
