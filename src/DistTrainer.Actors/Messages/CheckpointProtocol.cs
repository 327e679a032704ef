using MessagePack;

namespace DistTrainer.Actors.Messages;

// Checkpoints and resume between the coordinator and the parameter server. The training state is one flat tensor:
// the weights, then the optimizer's exported state (empty for SGD; moments and step count for Adam), so it travels
// inline or chunked like any other tensor (TransferId 0 = inline, else TensorChunks of that transfer came first).

/// <summary>
/// Coordinator → parameter server: send the weights and the optimizer state, tagged with this request id: now
/// (<see cref="AtVersion"/> -1), or right after the step that makes version <see cref="AtVersion"/> is applied (at once
/// if the server is there already or past it; the answer's version tells).
/// </summary>
[MessagePackObject]
public sealed record PullTrainingState(
    [property: Key(0)] long RequestId,
    [property: Key(1)] long AtVersion) : IDistTrainerMessage;

/// <summary>
/// Parameter server → coordinator: the weights (the first <see cref="WeightCount"/> values of the tensor) and the
/// optimizer state (the rest) after <see cref="Version"/> optimizer steps.
/// </summary>
[MessagePackObject]
public sealed record TrainingState(
    [property: Key(0)] long RequestId,
    [property: Key(1)] long Version,
    [property: Key(2)] int WeightCount,
    [property: Key(3)] int Length,
    [property: Key(4)] long TransferId,
    [property: Key(5)] float[] Data) : IDistTrainerMessage;

/// <summary>
/// Coordinator → parameter server, before the first step of a resumed job: replace the weights, the optimizer state
/// and the version with a checkpoint's, and broadcast the restored weights to the subscribed workers.
/// </summary>
[MessagePackObject]
public sealed record RestoreTrainingState(
    [property: Key(0)] long Version,
    [property: Key(1)] int WeightCount,
    [property: Key(2)] int Length,
    [property: Key(3)] long TransferId,
    [property: Key(4)] float[] Data) : IDistTrainerMessage;

/// <summary>The answer to <see cref="RestoreTrainingState"/>: the weights are now at <see cref="Version"/>, or <see cref="Error"/> says why not.</summary>
[MessagePackObject]
public sealed record TrainingStateRestored(
    [property: Key(0)] long Version,
    [property: Key(1)] string? Error) : IDistTrainerMessage;
