using DistTrainer.Actors.Transfer;
using MessagePack;

namespace DistTrainer.Actors.Messages;

// The conversation around the parameter server: workers pull weights and push gradients; the server tells the
// coordinator which work it accepted and when a synchronous step was applied. A tensor field is either inline
// (TransferId 0) or empty with the data sent before as TensorChunks of that transfer.

/// <summary>The coordinator introduces itself; the server sends it acceptances and step notices from then on.</summary>
[MessagePackObject]
public sealed record RegisterCoordinator(
    [property: Key(0)] int ParameterCount) : IDistTrainerMessage;

/// <summary>Ask for the current weights. A worker (WorkerId ≥ 0) is also subscribed to the sync broadcasts.</summary>
[MessagePackObject]
public sealed record PullParameters(
    [property: Key(0)] int WorkerId) : IDistTrainerMessage;

/// <summary>The weights at <see cref="Version"/> (the number of optimizer steps applied).</summary>
[MessagePackObject]
public sealed record ParametersSnapshot(
    [property: Key(0)] long Version,
    [property: Key(1)] int Length,
    [property: Key(2)] long TransferId,
    [property: Key(3)] float[] Weights) : IDistTrainerMessage
{
    /// <summary>In-process only (never serialized): a pooled <see cref="Weights"/> array the receiver releases once read.</summary>
    [IgnoreMember]
    public TensorLease? Lease { get; init; }
}

/// <summary>
/// A worker's summed gradient over <see cref="SampleCount"/> samples (not yet divided), its summed loss, the
/// weights version it was computed with, and how many of the samples it classified right (0 for regression).
/// </summary>
[MessagePackObject]
public sealed record PushGradients(
    [property: Key(0)] int WorkerId,
    [property: Key(1)] int Epoch,
    [property: Key(2)] long Step,
    [property: Key(3)] int Part,
    [property: Key(4)] long Version,
    [property: Key(5)] int StepSamples,
    [property: Key(6)] int SampleCount,
    [property: Key(7)] double Loss,
    [property: Key(8)] long ComputeMicros,
    [property: Key(9)] int Length,
    [property: Key(10)] long TransferId,
    [property: Key(11)] float[] Gradients,
    [property: Key(12)] int Correct) : IDistTrainerMessage
{
    /// <summary>In-process only (never serialized): a pooled <see cref="Gradients"/> array the receiver releases once read.</summary>
    [IgnoreMember]
    public TensorLease? Lease { get; init; }

    /// <summary>
    /// In-process only (never serialized): whether the sending worker found every gradient value finite, when it
    /// checked on its own thread (<see cref="Worker.WorkerSettings.ChecksOwnGradient"/>). A server in the same process
    /// (the push has a <see cref="Lease"/>) uses this finding instead of a pass of its own.
    /// </summary>
    [IgnoreMember]
    public bool? SenderFoundFinite { get; init; }
}

/// <summary>
/// To the coordinator: this piece of work counts (exactly once). <see cref="Version"/> is the weights version after it;
/// <see cref="Loss"/> and <see cref="Correct"/> are the pushing worker's, for progress.
/// </summary>
[MessagePackObject]
public sealed record GradientAccepted(
    [property: Key(0)] int WorkerId,
    [property: Key(1)] int Epoch,
    [property: Key(2)] long Step,
    [property: Key(3)] int Part,
    [property: Key(4)] long Version,
    [property: Key(5)] int SampleCount,
    [property: Key(6)] double Loss,
    [property: Key(7)] long ComputeMicros,
    [property: Key(8)] int Correct) : IDistTrainerMessage;

/// <summary>To the pushing worker: the gradient was not used, and why.</summary>
[MessagePackObject]
public sealed record GradientRejected(
    [property: Key(0)] int WorkerId,
    [property: Key(1)] long Step,
    [property: Key(2)] int Part,
    [property: Key(3)] long CurrentVersion,
    [property: Key(4)] string Reason) : IDistTrainerMessage;

/// <summary>
/// To the coordinator: the training diverged, so <see cref="Step"/> cannot be applied: worker <see cref="WorkerId"/>'s
/// gradient or loss for <see cref="Part"/> holds NaN or infinity, or the update of finite gradients is not finite. A
/// gradient is a deterministic function of the weights and the rows (the loaders refuse non-finite values), so the
/// same work would fail the same way again: the coordinator ends the job instead of re-sending it.
/// </summary>
[MessagePackObject]
public sealed record TrainingDiverged(
    [property: Key(0)] int WorkerId,
    [property: Key(1)] long Step,
    [property: Key(2)] int Part,
    [property: Key(3)] long Version,
    [property: Key(4)] string Reason) : IDistTrainerMessage;

/// <summary>To the coordinator (sync mode): the global batch of <see cref="Step"/> was averaged and applied.</summary>
[MessagePackObject]
public sealed record StepApplied(
    [property: Key(0)] long Step,
    [property: Key(1)] long Version,
    [property: Key(2)] int Samples,
    [property: Key(3)] double Loss) : IDistTrainerMessage;
