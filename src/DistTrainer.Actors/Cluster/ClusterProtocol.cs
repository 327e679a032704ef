using DistTrainer.Actors.Messages;
using DistTrainer.Numerics.Data;
using DistTrainer.Numerics.Models;
using DistTrainer.Numerics.Optimizers;
using MessagePack;

namespace DistTrainer.Actors.Cluster;

// The conversation that sets a job up across nodes. The coordinator host (a cluster singleton on the "coordinator"
// role) starts the parameter server on a "parameter-server" node, then offers the job to each worker node that asks.
// The training itself then uses the actor protocol of Messages/ unchanged.

/// <summary>Marker of the cluster set-up messages; reference.conf binds it to <see cref="ClusterProtocolSerializer"/>.</summary>
public interface IClusterProtocolMessage
{
}

/// <summary>
/// Everything a node needs to take part in a job: the model shape, the optimizer, the schedule, and what the training
/// data must look like (feature count, classes, row count and a content fingerprint), so a node holding other data
/// or another model is refused before it can disturb the job. <see cref="CdSteps"/> and <see cref="PersistentChains"/>
/// are an RBM's (<see cref="RbmOptions"/>; its sampling seed is <see cref="Seed"/>), ignored for an MLP.
/// </summary>
[MessagePackObject]
public sealed record JobSpec(
    [property: Key(0)] string JobId,
    [property: Key(1)] ModelKind Kind,
    [property: Key(2)] int Inputs,
    [property: Key(3)] int[] Hidden,
    [property: Key(4)] int Outputs,
    [property: Key(5)] Activation Activation,
    [property: Key(6)] TaskKind Task,
    [property: Key(7)] TrainingMode Mode,
    [property: Key(8)] OptimizerKind Optimizer,
    [property: Key(9)] float LearningRate,
    [property: Key(10)] float Momentum,
    [property: Key(11)] float WeightDecay,
    [property: Key(12)] float Beta1,
    [property: Key(13)] float Beta2,
    [property: Key(14)] float Epsilon,
    [property: Key(15)] int Seed,
    [property: Key(16)] int BatchSize,
    [property: Key(17)] int Epochs,
    [property: Key(18)] int ParameterCount,
    [property: Key(19)] DataDescription Data,
    [property: Key(20)] int CdSteps = 1,
    [property: Key(21)] int PersistentChains = 0) : IClusterProtocolMessage
{
    [IgnoreMember]
    public ModelSpec Model => new(Kind, Inputs, Hidden, Outputs, Activation, Task);

    /// <summary>How every worker of an RBM job estimates its gradient (the job seed seeds the sampling); null for an MLP.</summary>
    [IgnoreMember]
    public RbmOptions? Rbm => Kind == ModelKind.Rbm ? new RbmOptions(CdSteps, PersistentChains, Seed: Seed) : null;

    [IgnoreMember]
    public OptimizerOptions OptimizerOptions => new(Optimizer, LearningRate, Momentum, WeightDecay, Beta1, Beta2, Epsilon);

    public static JobSpec Create(string jobId, ModelSpec model, OptimizerOptions optimizer, TrainingMode mode, int seed, int batchSize, int epochs, int parameterCount, DataDescription data,
        RbmOptions? rbm = null) =>
        new(jobId, model.Kind, model.Inputs, model.Hidden, model.Outputs, model.Activation, model.Task, mode,
            optimizer.Kind, optimizer.LearningRate, optimizer.Momentum, optimizer.WeightDecay, optimizer.Beta1, optimizer.Beta2, optimizer.Epsilon,
            seed, batchSize, epochs, parameterCount, data, rbm?.CdSteps ?? 1, rbm?.PersistentChains ?? 0);

    public override string ToString() => $"job \"{JobId}\": {Model}, {Mode.ToString().ToLowerInvariant()}, {ParameterCount:N0} parameters, {Data}";
}

/// <summary>The shape and content fingerprint of a node's training split.</summary>
[MessagePackObject]
public sealed record DataDescription(
    [property: Key(0)] string Name,
    [property: Key(1)] int Rows,
    [property: Key(2)] int Features,
    [property: Key(3)] int Classes,
    [property: Key(4)] TaskKind Task,
    [property: Key(5)] string Fingerprint) : IClusterProtocolMessage
{
    public override string ToString() => $"{Name}: {Rows} rows × {Features} features, {(Task == TaskKind.Classification ? $"{Classes} classes" : "regression")}, fingerprint {Fingerprint}";

    /// <summary>Null when <paramref name="other"/> (a joining node's data) matches this job's data, else why not.</summary>
    public string? Mismatch(DataDescription other)
    {
        if (other.Features != Features)
        {
            return $"its data has {other.Features} features, the job's model expects {Features}";
        }
        if (other.Task != Task || other.Classes != Classes)
        {
            return $"its data is {other.Task.ToString().ToLowerInvariant()} with {other.Classes} classes, the job's is {Task.ToString().ToLowerInvariant()} with {Classes}";
        }
        if (other.Rows != Rows)
        {
            return $"its training split has {other.Rows} rows, the job's has {Rows}";
        }
        if (!string.Equals(other.Fingerprint, Fingerprint, StringComparison.Ordinal))
        {
            return $"its training data differs (fingerprint {other.Fingerprint}, the job's {Fingerprint})";
        }
        return null;
    }
}

/// <summary>
/// A worker node asks the coordinator for work in job <see cref="JobId"/>; it repeats until answered. <see cref="Kind"/>
/// is the model its data was prepared for (an MLP's inputs are standardized, an RBM's min-max scaled to [0, 1]).
/// </summary>
[MessagePackObject]
public sealed record JoinJob(
    [property: Key(0)] string JobId,
    [property: Key(1)] string Node,
    [property: Key(2)] DataDescription Data,
    [property: Key(3)] ModelKind Kind = ModelKind.Mlp) : IClusterProtocolMessage;

/// <summary>
/// The coordinator takes the worker node into the job: its worker id, the job and where the coordinator and the
/// parameter server live (serialized actor paths, resolved by the receiving node).
/// </summary>
[MessagePackObject]
public sealed record JobOffer(
    [property: Key(0)] JobSpec Job,
    [property: Key(1)] int WorkerId,
    [property: Key(2)] string CoordinatorPath,
    [property: Key(3)] string ParameterServerPath) : IClusterProtocolMessage;

/// <summary>The node cannot take part; it logs the reason, leaves the cluster and exits with an error.</summary>
[MessagePackObject]
public sealed record JobRefused(
    [property: Key(0)] string JobId,
    [property: Key(1)] string Reason) : IClusterProtocolMessage;

/// <summary>Coordinator host → parameter-server node: run the parameter server of this job (idempotent).</summary>
[MessagePackObject]
public sealed record StartParameterServer(
    [property: Key(0)] JobSpec Job) : IClusterProtocolMessage;

/// <summary>The parameter server of the job runs; the message's sender is the parameter server actor itself.</summary>
[MessagePackObject]
public sealed record ParameterServerStarted(
    [property: Key(0)] string JobId,
    [property: Key(1)] int ParameterCount) : IClusterProtocolMessage;

/// <summary>The job is over (successfully or not); the coordinator asks every node to leave right after.</summary>
[MessagePackObject]
public sealed record JobFinished(
    [property: Key(0)] string JobId,
    [property: Key(1)] bool Succeeded,
    [property: Key(2)] string Summary) : IClusterProtocolMessage;

/// <summary>
/// Flow control of chunked tensors (<see cref="Transfer.TransferOutbox"/>): after a window of chunks to a node, the
/// sending node's outbox asks that node's flow responder for an acknowledgement. One TCP connection carries everything
/// between two nodes in order, so the answer means the chunks before it have left the connection.
/// </summary>
[MessagePackObject]
public sealed record FlowProbe(
    [property: Key(0)] long Sequence) : IClusterProtocolMessage;

/// <summary>The answer to <see cref="FlowProbe"/>; <see cref="BulkPort"/> is the node's bulk-channel port, or 0 without one.</summary>
[MessagePackObject]
public sealed record FlowAck(
    [property: Key(0)] long Sequence,
    [property: Key(1)] int BulkPort = 0) : IClusterProtocolMessage;
