using Akka.Actor;
using DistTrainer.Numerics.Training;

namespace DistTrainer.Actors.Coordinator;

// What the coordinator tells its local listener (the CLI's runner). These never cross the network.

/// <summary>
/// One finished epoch (1-based): mean training loss over the samples used, the sample count, wall time and samples/s of
/// the training part (evaluation excluded), the test-set evaluation, and per-worker step times.
/// </summary>
public sealed record EpochReport(
    int Epoch,
    double TrainLoss,
    int Samples,
    double Seconds,
    double SamplesPerSecond,
    Evaluation? Test,
    IReadOnlyList<WorkerEpochStats> Workers,
    long Version,
    int RedrivenWork,
    int DuplicateSamples) : INoSerializationVerificationNeeded;

/// <summary>
/// A worker's share of an epoch. <see cref="MeanComputeMs"/> is the gradient time the worker measured;
/// <see cref="MeanStepMs"/> is what the coordinator saw from handing out the work to its acceptance, so a straggler's
/// delays show there.
/// </summary>
public sealed record WorkerEpochStats(int WorkerId, int Parts, int Samples, double MeanComputeMs, double MeanStepMs, bool Alive);

/// <summary>The job is done: every epoch's report, the final weights and the per-epoch sample counts.</summary>
public sealed record TrainingFinished(
    IReadOnlyList<EpochReport> Epochs,
    float[] Weights,
    long Version,
    int[] SamplesSeenPerEpoch) : INoSerializationVerificationNeeded;

/// <summary>The job cannot go on (e.g. every worker is gone in a local simulation).</summary>
public sealed record TrainingFailed(string Reason) : INoSerializationVerificationNeeded;

/// <summary>
/// Where training stands after a step (sync: an applied global batch; async: an accepted batch), for live progress and
/// metrics rows. Epoch is 1-based; <see cref="Step"/> counts the job's steps so far. The Epoch* fields cover the
/// current epoch; the Total* fields run since the coordinator started, so a listener forms any window by differences.
/// Loss is the summed per-sample training loss and Correct the rows classified right (0 for regression), both as the
/// workers computed them with the weights of their step.
/// </summary>
public sealed record TrainingProgress(
    int Epoch,
    int StepInEpoch,
    int StepsPerEpoch,
    long Step,
    int EpochSamples,
    double EpochLoss,
    long EpochCorrect,
    double EpochSeconds,
    long TotalSamples,
    double TotalLoss,
    long TotalCorrect,
    IReadOnlyList<WorkerProgress> Workers) : INoSerializationVerificationNeeded;

/// <summary>
/// One worker in <see cref="TrainingProgress"/>: its accepted parts over the job, their mean time from hand-out to
/// acceptance since the previous event (the last known mean if it delivered nothing since), and when it last delivered.
/// </summary>
public sealed record WorkerProgress(int WorkerId, long Steps, double MeanStepMs, DateTimeOffset LastSeen, bool Alive);

/// <summary>
/// A consistent snapshot to checkpoint: the weights and optimizer state at <see cref="TrainingPosition.Version"/>.
/// The arrays belong to the receiver. Sent after the epoch's <see cref="EpochReport"/> at an epoch end.
/// </summary>
public sealed record CheckpointTaken(TrainingPosition Position, float[] Weights, float[] OptimizerState) : INoSerializationVerificationNeeded;
