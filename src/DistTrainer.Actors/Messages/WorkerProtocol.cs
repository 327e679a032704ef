using MessagePack;

namespace DistTrainer.Actors.Messages;

// The conversation between a worker and the coordinator: the worker registers, the coordinator assigns its shard of
// the training rows and hands out work on those rows.

/// <summary>A worker announces itself to the coordinator (which then watches it).</summary>
[MessagePackObject]
public sealed record RegisterWorker(
    [property: Key(0)] int WorkerId,
    [property: Key(1)] int ParameterCount) : IDistTrainerMessage;

/// <summary>The coordinator accepted the worker into the job.</summary>
[MessagePackObject]
public sealed record WorkerRegistered(
    [property: Key(0)] int WorkerId,
    [property: Key(1)] TrainingMode Mode) : IDistTrainerMessage;

/// <summary>The coordinator refused the worker (e.g. a different model size); the worker stops.</summary>
[MessagePackObject]
public sealed record WorkerRejected(
    [property: Key(0)] int WorkerId,
    [property: Key(1)] string Reason) : IDistTrainerMessage;

/// <summary>
/// Compute the summed gradient over <see cref="Rows"/> (training-set row indices, all inside the worker's shard) and
/// push it to the parameter server. <see cref="Step"/> is the global step (sync) or epoch · steps per epoch + the index
/// of the async batch (async); (<see cref="Step"/>, <see cref="Part"/>) names this piece of work, so a re-driven copy
/// is recognised and never counted twice. <see cref="Version"/> is the
/// weights version to use (sync) or -1 for "the freshest you have" (async). <see cref="StepSamples"/> is the size of the
/// whole global batch, which the parameter server waits for in sync mode.
/// </summary>
[MessagePackObject]
public sealed record ComputeGradient(
    [property: Key(0)] int Epoch,
    [property: Key(1)] long Step,
    [property: Key(2)] int BatchIndex,
    [property: Key(3)] int Part,
    [property: Key(4)] long Version,
    [property: Key(5)] int Attempt,
    [property: Key(6)] int StepSamples,
    [property: Key(7)] int[] Rows) : IDistTrainerMessage;

/// <summary>Training rows [<see cref="Start"/>, <see cref="Start"/> + <see cref="Count"/>) of the job's training split.</summary>
[MessagePackObject]
public readonly record struct RowRange(
    [property: Key(0)] int Start,
    [property: Key(1)] int Count)
{
    [IgnoreMember]
    public int End => Start + Count;

    public override string ToString() => $"[{Start}, {End})";
}

/// <summary>
/// The worker's shard from now on: exactly the rows of <see cref="Ranges"/> (sorted, disjoint) of a training split of
/// <see cref="TrainCount"/> rows. The worker loads those rows, drops any others, and answers <see cref="ShardReady"/>
/// with the same <see cref="AssignmentId"/>; a repeated assignment is answered again without reloading.
/// </summary>
[MessagePackObject]
public sealed record AssignShard(
    [property: Key(0)] long AssignmentId,
    [property: Key(1)] int WorkerId,
    [property: Key(2)] int TrainCount,
    [property: Key(3)] RowRange[] Ranges) : IDistTrainerMessage;

/// <summary>The worker holds the rows of assignment <see cref="AssignmentId"/> (<see cref="RowCount"/> of them) and takes work on them.</summary>
[MessagePackObject]
public sealed record ShardReady(
    [property: Key(0)] long AssignmentId,
    [property: Key(1)] int WorkerId,
    [property: Key(2)] int RowCount) : IDistTrainerMessage;
