using System.Diagnostics;
using Akka.Actor;
using Akka.Event;
using DistTrainer.Actors.Messages;
using DistTrainer.Actors.Transfer;
using DistTrainer.Numerics.Data;
using DistTrainer.Numerics.Kernels;
using DistTrainer.Numerics.Models;

namespace DistTrainer.Actors.Worker;

/// <summary>
/// Holds its shard of the training data in memory and computes the summed gradient of the rows the coordinator assigns,
/// with the weights version the assignment names. It pushes the gradient sum, the sample count and the summed loss to
/// the parameter server.
/// <para>
/// Shard: the coordinator names the rows this worker holds (<see cref="AssignShard"/>); the worker loads exactly those
/// through its <see cref="ITrainingData"/>, drops the rows it held before, and answers <see cref="ShardReady"/>. Work is
/// named by global row indices; the shard maps them to its own rows without allocating. Work on rows the worker does
/// not hold is refused with a logged reason (the coordinator's watchdog re-drives it to the rows' owner).
/// </para>
/// <para>
/// Compute placement: the actor runs on <c>disttrainer.worker-dispatcher</c>, a PinnedDispatcher, so each worker owns
/// one dedicated thread and the gradient is computed synchronously inside the message handler. That thread is never
/// shared with the default dispatcher, the remote transport or the cluster heartbeats, and the handler can reuse one
/// workspace and one gradient buffer without locks: a step allocates only the outgoing message arrays.
/// </para>
/// </summary>
public sealed class WorkerActor : ReceiveActor, IWithTimers
{
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly WorkerSettings _settings;
    private readonly ITrainingData _data;
    private readonly IActorRef _coordinator;
    private readonly IActorRef _parameterServer;
    private readonly IModel _model;
    private readonly ModelWorkspace _workspace;
    private float[] _weights;
    private TensorLease? _weightsLease;
    private readonly TensorPool _gradientPool;
    private bool _serverIsLocal;
    private readonly float[] _features;
    private readonly float[] _targets;
    private readonly int[] _ids;
    private readonly int[] _localRows;
    private readonly ChunkAssembler _assembler;
    private readonly List<ComputeGradient> _pending = [];
    private TrainingShard _shard;
    private long _shardAssignment;
    private long _version = -1;
    private bool _awaitingFreshWeights;
    private bool _pullRequested;
    private long _nextTransferId;
    private long _nextDelayed;
    private ComputeGradient? _prepared;
    private float[]? _preparedGradient; // a local server's: pooled, lent with the push
    private OutgoingTensor? _preparedOutgoing; // a remote server's: computed straight into the tensor that is sent

    public WorkerActor(WorkerSettings settings, ITrainingData data, IActorRef coordinator, IActorRef parameterServer)
    {
        _settings = settings;
        _data = data;
        _shard = TrainingShard.Empty(settings.Model.Inputs);
        _coordinator = coordinator;
        _parameterServer = parameterServer;
        _model = ModelFactory.Create(settings.Model, settings.Rbm);
        var maxBatch = Math.Max(1, settings.MaxBatch);
        _workspace = _model.CreateWorkspace(maxBatch, settings.Threads);
        _workspace.IdleThreadsMayHelp = settings.IdleThreadsMayHelp;
        _weights = new float[_model.ParameterCount];
        _gradientPool = new TensorPool(_model.ParameterCount);
        _features = new float[maxBatch * settings.Model.Inputs];
        _targets = new float[maxBatch];
        _ids = new int[maxBatch];
        _localRows = new int[maxBatch];
        _assembler = new ChunkAssembler(settings.MaxOpenTransfers, _model.ParameterCount);

        Receive<TensorChunk>(OnChunk);
        Receive<ParametersSnapshot>(OnSnapshot);
        Receive<AssignShard>(OnAssignShard);
        Receive<ComputeGradient>(OnCompute);
        Receive<GradientRejected>(OnRejected);
        Receive<WorkerRegistered>(m => _log.Debug("worker {0} registered ({1} mode)", m.WorkerId, m.Mode));
        Receive<WorkerRejected>(m =>
        {
            _log.Error("worker {0} was refused by the coordinator: {1}", m.WorkerId, m.Reason);
            Context.Stop(Self);
        });
        Receive<DelayedPush>(m => Send(m.Tensor, m.Push));
    }

    public static Props Props(WorkerSettings settings, ITrainingData data, IActorRef coordinator, IActorRef parameterServer) =>
        Akka.Actor.Props.Create(() => new WorkerActor(settings, data, coordinator, parameterServer))
            .WithDispatcher(DistTrainerSettings.WorkerDispatcher);

    public int WorkerId => _settings.WorkerId;

    public ITimerScheduler Timers { get; set; } = null!;

    protected override void PreStart()
    {
        if (_data.FeatureCount != _settings.Model.Inputs)
        {
            throw new InvalidOperationException($"worker {WorkerId}: the data has {_data.FeatureCount} features, the model expects {_settings.Model.Inputs}");
        }
        _serverIsLocal = LocalTensor.IsLocal(Context.System, _parameterServer);
        _coordinator.Tell(new RegisterWorker(WorkerId, _model.ParameterCount), Self);
        Pull();
    }

    protected override void PostStop()
    {
        _weightsLease?.Release();
        _weightsLease = null;
        _preparedOutgoing?.Release();
        _preparedOutgoing = null;
        base.PostStop();
    }

    private void OnChunk(TensorChunk chunk)
    {
        if (!_assembler.Add(Sender, chunk, out var reason, out var evicted))
        {
            _log.Warning("worker {0} rejected a chunk: {1}", WorkerId, reason);
        }
        if (evicted is not null)
        {
            _log.Warning("worker {0}: {1}", WorkerId, evicted);
        }
    }

    private void OnSnapshot(ParametersSnapshot snapshot)
    {
        var lease = snapshot.Lease;
        if (!Adopt(snapshot))
        {
            lease?.Release();
        }
    }

    /// <summary>True when the worker keeps the snapshot's pooled array as its weights (and so holds its lease).</summary>
    private bool Adopt(ParametersSnapshot snapshot)
    {
        if (!_assembler.TryTake(Sender, snapshot.Length, snapshot.TransferId, snapshot.Weights, _weights.Length, out var tensor, out var reason))
        {
            _log.Warning("worker {0} rejected weights version {1}: {2}", WorkerId, snapshot.Version, reason);
            return false;
        }
        _pullRequested = false;
        if (snapshot.Version < _version)
        {
            _log.Debug("worker {0} ignored weights version {1}: it holds {2}", WorkerId, snapshot.Version, _version);
            return false;
        }
        // A leased array comes from the parameter server in this process, which only applies finite gradients: the
        // check is for weights that crossed the network, and would cost a pass on the step's critical path here.
        if (snapshot.Lease is null && !tensor.AllFinite())
        {
            _log.Warning("worker {0} rejected weights version {1}: NaN or infinity", WorkerId, snapshot.Version);
            return false;
        }
        var adopted = false;
        if (snapshot.Lease is not null)
        {
            // The sender's array itself, delivered by reference: read it in place (the model never writes weights)
            // until the next snapshot replaces it, instead of copying 4 bytes per parameter every step.
            var previous = _weightsLease;
            _weights = snapshot.Weights;
            _weightsLease = snapshot.Lease;
            previous?.Release();
            adopted = true;
        }
        else if (_assembler.TryKeep(out var kept))
        {
            // One pooled array from the bulk channel: it becomes the weights instead of being copied into them.
            ReleaseWeights();
            _weights = kept;
        }
        else
        {
            if (_weightsLease is not null)
            {
                ReleaseWeights();
                _weights = new float[_weights.Length];
            }
            tensor.CopyTo(_weights);
        }
        _version = snapshot.Version;
        _awaitingFreshWeights = false;
        DrainPending();
        return adopted;
    }

    /// <summary>Gives back the array the weights live in when it was lent: by a local server, or by the bulk channel.</summary>
    private void ReleaseWeights()
    {
        _weightsLease?.Release();
        _weightsLease = null;
        ChunkArrayPool.Received.Return(_weights); // ignored unless the pool lent it
    }

    private void OnCompute(ComputeGradient work)
    {
        if (_settings.CrashAt is { } crash && crash.Epoch == work.Epoch && work.BatchIndex >= crash.BatchIndex)
        {
            _log.Warning("worker {0}: simulated crash at epoch {1} batch {2}", WorkerId, work.Epoch + 1, work.BatchIndex);
            Context.Stop(Self);
            return;
        }
        var rows = work.Rows ?? [];
        var badRow = -1;
        for (var i = 0; i < rows.Length && badRow < 0; i++)
        {
            badRow = _shard.LocalIndex(rows[i]) < 0 ? i : -1;
        }
        if (rows.Length == 0 || rows.Length > _targets.Length || badRow >= 0)
        {
            _log.Warning("worker {0} refused step {1} part {2}: {3}", WorkerId, work.Step, work.Part,
                badRow >= 0 ? $"row {rows[badRow]} is not in this worker's shard ({_shard})" : $"{rows.Length} rows (1..{_targets.Length} allowed)");
            return;
        }
        _pending.Add(work);
        if (work.Attempt > 0 && work.Version > _version)
        {
            Pull(force: true); // a re-driven step: the broadcast of that version may have been lost
        }
        DrainPending();
    }

    private void OnAssignShard(AssignShard assignment)
    {
        if (assignment.AssignmentId <= _shardAssignment)
        {
            if (assignment.AssignmentId == _shardAssignment)
            {
                Sender.Tell(new ShardReady(_shardAssignment, WorkerId, _shard.Count), Self); // a repeat: the answer was late or lost
            }
            return;
        }
        TrainingShard shard;
        try
        {
            shard = _data.LoadShard(assignment.Ranges ?? [], assignment.TrainCount);
        }
        catch (Exception e) when (e is InvalidDataException or DataFormatException or IOException or UnauthorizedAccessException)
        {
            // Without its rows this worker is of no use to the job: stopping hands its shard to the survivors.
            _log.Error("worker {0} cannot load its shard {1}: {2}; stopping", WorkerId, string.Join(" ", assignment.Ranges ?? []), e.Message);
            Context.Stop(Self);
            return;
        }
        _shard = shard;
        _shardAssignment = assignment.AssignmentId;
        // Work still waiting here on rows this worker no longer holds was handed to their new owner.
        var dropped = _pending.RemoveAll(w => !_shard.HoldsAll(w.Rows));
        if (_prepared is not null && !_pending.Contains(_prepared))
        {
            _prepared = null;
        }
        _log.Info("worker {0} holds {1}{2}", WorkerId, _shard, dropped > 0 ? $"; dropped {dropped} stale assignment(s)" : "");
        Sender.Tell(new ShardReady(_shardAssignment, WorkerId, _shard.Count), Self);
    }

    private void OnRejected(GradientRejected rejected)
    {
        _log.Info("worker {0}: the parameter server did not use step {1} part {2}: {3}", WorkerId, rejected.Step, rejected.Part, rejected.Reason);
        if (_awaitingFreshWeights)
        {
            Pull();
        }
    }

    /// <summary>Runs every pending assignment whose weights are here; drops those for versions already passed.</summary>
    private void DrainPending()
    {
        for (var i = 0; i < _pending.Count;)
        {
            var work = _pending[i];
            var isAsync = work.Version < 0;
            if (!isAsync && work.Version < _version)
            {
                _log.Debug("worker {0} dropped stale step {1} part {2} (version {3}, holds {4})", WorkerId, work.Step, work.Part, work.Version, _version);
                _pending.RemoveAt(i);
                continue;
            }
            var ready = _version >= 0 && !_awaitingFreshWeights && (isAsync || work.Version == _version);
            if (!ready)
            {
                i++;
                continue;
            }
            _pending.RemoveAt(i);
            Compute(work);
        }
        if (_settings.PreparesAhead && _prepared is null && _pending.Count > 0)
        {
            Prepare(_pending[0]); // it waits for its weights: gather now, while the parameter server applies the step
        }
    }

    /// <summary>
    /// Gathers the rows of <paramref name="work"/> and takes a gradient buffer. This needs no weights, so the next
    /// assignment (which usually arrives before its weights) is prepared while the parameter server applies the step.
    /// </summary>
    private void Prepare(ComputeGradient work)
    {
        var rows = work.Rows;
        for (var i = 0; i < rows.Length; i++)
        {
            var local = _shard.LocalIndex(rows[i]);
            _localRows[i] = local;
            _targets[i] = _shard.Target(local);
            _ids[i] = rows[i]; // the global row: seeded sampling (RBM) must not depend on which worker holds it
        }
        RowGather.Gather(_shard.Features, _shard.FeatureCount, _localRows.AsSpan(0, rows.Length), _features);
        // A local server gets the gradient array itself (pooled, returned by its lease); a remote one the tensor's.
        // Either is written whole by the gradient (IModel.ComputeGradient): no clearing pass.
        if (_serverIsLocal)
        {
            _preparedGradient ??= _gradientPool.Rent();
        }
        else
        {
            _preparedOutgoing ??= OutgoingTensor.Rent(_model.ParameterCount, ++_nextTransferId, _settings.ChunkFloats);
        }
        _prepared = work;
    }

    private void Compute(ComputeGradient work)
    {
        if (!ReferenceEquals(work, _prepared))
        {
            Prepare(work);
        }
        _prepared = null;
        var gradient = _preparedGradient;
        var tensor = _preparedOutgoing;
        _preparedGradient = null;
        _preparedOutgoing = null;
        var count = work.Rows.Length;
        var inputs = _shard.FeatureCount;
        var started = Stopwatch.GetTimestamp();
        var batch = new Batch(_features.AsSpan(0, count * inputs), _targets.AsSpan(0, count), _ids.AsSpan(0, count), work.Step);
        var loss = _model.ComputeGradient(_weights, batch, gradient ?? tensor!.Buffer, _workspace);
        var correct = _workspace.Correct;
        var micros = (long)Stopwatch.GetElapsedTime(started).TotalMicroseconds;

        PushGradients push;
        if (gradient is not null)
        {
            push = new PushGradients(WorkerId, work.Epoch, work.Step, work.Part, _version, work.StepSamples, count, loss, micros,
                gradient.Length, 0, gradient, correct)
            {
                Lease = _gradientPool.Lease(gradient, 1),
                SenderFoundFinite = _settings.ChecksOwnGradient ? ReceivedTensor.IsFinite(gradient) : null,
            };
        }
        else
        {
            push = new PushGradients(WorkerId, work.Epoch, work.Step, work.Part, _version, work.StepSamples, count, loss, micros,
                tensor!.Length, tensor.TransferId, tensor.Inline, correct);
        }
        if (work.Version < 0)
        {
            _awaitingFreshWeights = true; // async: the server answers the push with fresh weights
        }
        if (_settings.MessageDelay > TimeSpan.Zero)
        {
            Timers.StartSingleTimer(("push", push.Step, push.Part, ++_nextDelayed), new DelayedPush(tensor, push), _settings.MessageDelay);
        }
        else
        {
            Send(tensor, push);
        }
    }

    private void Send(OutgoingTensor? tensor, PushGradients push)
    {
        if (tensor is null)
        {
            _parameterServer.Tell(push, Self);
            return;
        }
        tensor.SendTo(Context.System, _parameterServer, push, Self); // chunked + flow-controlled across nodes
        tensor.Release(); // its chunk arrays are reused once the bulk writer is done
    }

    private void Pull(bool force = false)
    {
        if (force || !_pullRequested)
        {
            _pullRequested = true;
            _parameterServer.Tell(new PullParameters(WorkerId), Self);
        }
    }

    /// <summary>A push held back by the simulated straggler delay.</summary>
    private sealed record DelayedPush(OutgoingTensor? Tensor, PushGradients Push) : INoSerializationVerificationNeeded;
}
