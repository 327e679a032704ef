using Akka.Actor;
using Akka.Event;
using DistTrainer.Actors.Messages;
using DistTrainer.Actors.Transfer;
using DistTrainer.Numerics.Optimizers;

namespace DistTrainer.Actors.ParameterServer;

/// <summary>
/// Holds the flat weights, the optimizer state and the version (the number of optimizer steps applied).
/// <para>
/// Sync mode: sums the gradient sums of version v until their sample counts add up to the global batch, then applies
/// <c>optimizer.Step(weights, sum / count)</c>, broadcasts version v+1 to every subscribed worker and tells the
/// coordinator. The parts are summed in part order, whatever order they arrive in: float addition is not associative,
/// so an arrival-order sum would make the same job give different weights from run to run. Async mode: applies each gradient on arrival (mean over its own samples) and answers the pushing
/// worker with the fresh weights.
/// </para>
/// A gradient of the wrong length, holding NaN or ±Inf, for an unknown or past version, or for work already counted is
/// rejected with a logged reason; the weights stay unchanged and the actor keeps running.
/// </summary>
public sealed class ParameterServerActor : ReceiveActor
{
    private const int MaxUntold = 1 << 16; // a bound for a coordinator that never registers
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly ParameterServerSettings _settings;
    private IActorRef? _coordinator;
    // Acceptances and applied steps from before the coordinator's RegisterCoordinator arrived: across nodes a worker's
    // first gradient can overtake it, and the coordinator must still hear that the step was applied.
    private readonly Queue<object> _untold = new();
    // The weights never change in place: each step writes a new pooled array, which is then lent, unchanged, to the
    // local workers; the server holds it through _weightsLease until the next step replaces it.
    private float[] _weights;
    private TensorLease _weightsLease;
    private readonly float[] _sum;
    private readonly IOptimizer _optimizer;
    private readonly SpreadStep _spreadStep; // the step for local receivers: idle worker threads of this process help
    private readonly ChunkAssembler _assembler;
    private readonly TensorPool _snapshotPool;
    private readonly List<IActorRef> _localReceivers = [];
    private readonly List<IActorRef> _remoteReceivers = [];
    private readonly List<IActorRef> _receivers = [];
    private readonly HashSet<IActorRef> _subscribers = [];
    private readonly HashSet<int> _stepParts = [];
    private readonly List<HeldPart> _heldParts = []; // arrived ahead of a lower part, sorted by part, not yet summed
    private readonly HashSet<(long Step, int Part)> _completed = [];
    private readonly Queue<(long Step, int Part)> _completedOrder = new();
    private readonly List<(IActorRef Requester, PullTrainingState Pull)> _statePulls = []; // checkpoints due at a later version
    private long _version;
    private long _nextTransferId;
    private long _stepOfVersion = -1;
    private int _partsSummed; // parts 0 .. _partsSummed - 1 of the open step are in _sum
    private int _stepExpected;
    private int _stepSamples;
    private double _stepLoss;

    public ParameterServerActor(ParameterServerSettings settings, float[] initialWeights)
    {
        _settings = settings;
        _snapshotPool = new TensorPool(initialWeights.Length);
        _weights = _snapshotPool.Rent();
        initialWeights.CopyTo(_weights, 0);
        _weightsLease = _snapshotPool.Lease(_weights, 1);
        _sum = new float[_weights.Length];
        _optimizer = settings.Optimizer.Create(_weights.Length);
        _spreadStep = new SpreadStep(_optimizer);
        _assembler = new ChunkAssembler(settings.MaxOpenTransfers, TrainingStateTensor.MaxLength(_weights.Length)); // a restore carries weights + optimizer state

        Receive<TensorChunk>(OnChunk);
        Receive<PushGradients>(OnPush);
        Receive<PullParameters>(OnPull);
        Receive<PullTrainingState>(OnPullState);
        Receive<RestoreTrainingState>(OnRestore);
        Receive<RegisterCoordinator>(m =>
        {
            if (m.ParameterCount != _weights.Length)
            {
                _log.Warning("parameter server refused a coordinator for {0} parameters; it holds {1}", m.ParameterCount, _weights.Length);
                return;
            }
            _coordinator = Sender;
            _log.Debug("parameter server reports to {0}", Sender.Path);
            while (_untold.TryDequeue(out var message))
            {
                _coordinator.Tell(message, Self);
            }
        });
        Receive<Terminated>(t =>
        {
            _subscribers.Remove(t.ActorRef);
            _assembler.Forget(t.ActorRef);
        });
    }

    /// <summary>
    /// <paramref name="initialWeights"/> is copied; the server owns its weights from then on. The coordinator
    /// introduces itself with <see cref="RegisterCoordinator"/>.
    /// </summary>
    public static Props Props(ParameterServerSettings settings, float[] initialWeights) =>
        Akka.Actor.Props.Create(() => new ParameterServerActor(settings, initialWeights))
            .WithDispatcher(DistTrainerSettings.ParameterServerDispatcher);

    private void OnChunk(TensorChunk chunk)
    {
        if (!_assembler.Add(Sender, chunk, out var reason, out var evicted))
        {
            _log.Warning("parameter server rejected a chunk from {0}: {1}", Sender.Path.Name, reason);
        }
        if (evicted is not null)
        {
            _log.Warning("parameter server: {0}", evicted);
        }
    }

    private void OnPull(PullParameters pull)
    {
        if (pull.WorkerId >= 0 && _subscribers.Add(Sender))
        {
            Context.Watch(Sender);
        }
        SendSnapshot(Sender);
    }

    /// <summary>A checkpoint: weights and optimizer state as they are now (a sync step is applied whole, so never half-way).</summary>
    private void OnPullState(PullTrainingState pull)
    {
        if (pull.AtVersion > _version)
        {
            _statePulls.Add((Sender, pull));
            return;
        }
        SendState(Sender, pull);
    }

    /// <summary>Answers the checkpoint requests due at the version just reached (or passed).</summary>
    private void SendDueStates()
    {
        for (var i = _statePulls.Count - 1; i >= 0; i--)
        {
            if (_statePulls[i].Pull.AtVersion <= _version)
            {
                SendState(_statePulls[i].Requester, _statePulls[i].Pull);
                _statePulls.RemoveAt(i);
            }
        }
    }

    private void SendState(IActorRef requester, PullTrainingState pull)
    {
        var data = TrainingStateTensor.Concat(_weights, _optimizer.ExportState());
        var version = _version;
        var weightCount = _weights.Length;
        TrainingStateTensor.Send(Context.System, requester, data, ++_nextTransferId, _settings.ChunkFloats,
            (length, transferId, inline) => new TrainingState(pull.RequestId, version, weightCount, length, transferId, inline), Self);
    }

    /// <summary>
    /// A resumed job starts from a checkpoint: weights, optimizer state (Adam's bias correction needs its step count)
    /// and version. Refused, with the weights unchanged, if the shapes do not fit this model and optimizer.
    /// </summary>
    private void OnRestore(RestoreTrainingState restore)
    {
        string? error = null;
        if (restore.WeightCount != _weights.Length || restore.Version < 0)
        {
            error = $"the checkpoint holds {restore.WeightCount} weights at version {restore.Version}; this server holds {_weights.Length}";
        }
        else if (restore.Length < restore.WeightCount || restore.Length > TrainingStateTensor.MaxLength(_weights.Length))
        {
            error = $"the checkpoint's state of {restore.Length} values does not fit {_weights.Length} weights";
        }
        else if (!_assembler.TryTake(Sender, restore.Length, restore.TransferId, restore.Data, restore.Length, out var tensor, out var reason))
        {
            error = $"wrong shape: {reason}";
        }
        else
        {
            var data = new float[restore.Length];
            tensor.CopyTo(data);
            if (!ReceivedTensor.IsFinite(data))
            {
                error = "the checkpoint holds NaN or infinity";
            }
            else
            {
                try
                {
                    _optimizer.ImportState(data.AsSpan(restore.WeightCount));
                    var restored = _snapshotPool.Rent(); // workers may still read the current array
                    data.AsSpan(0, restore.WeightCount).CopyTo(restored);
                    ReplaceWeights(restored);
                    _version = restore.Version;
                    ClearStep();
                }
                catch (ArgumentException e)
                {
                    error = e.Message;
                }
            }
        }
        if (error is not null)
        {
            _log.Error("parameter server refused to restore a checkpoint: {0}", error);
            Sender.Tell(new TrainingStateRestored(_version, error), Self);
            return;
        }
        _log.Info("parameter server restored a checkpoint at version {0}", _version);
        SplitReceivers(_subscribers);
        SendSnapshot(); // workers that pulled the initial weights move on to the restored ones
        SendDueStates();
        Sender.Tell(new TrainingStateRestored(_version, null), Self);
    }

    private void OnPush(PushGradients push)
    {
        var held = false;
        try
        {
            held = Accept(push);
        }
        finally
        {
            if (!held)
            {
                push.Lease?.Release(); // nothing here reads the pushed array after this message
            }
        }
    }

    /// <summary>True when the gradient is held for a later sum; its lease is then released once it is summed.</summary>
    private bool Accept(PushGradients push)
    {
        if (!_assembler.TryTake(Sender, push.Length, push.TransferId, push.Gradients, _weights.Length, out var gradient, out var reason))
        {
            Reject(push, $"wrong shape: {reason}");
            return false;
        }
        if (push.SampleCount <= 0)
        {
            Reject(push, $"sample count {push.SampleCount} is not positive");
            return false;
        }
        if (!double.IsFinite(push.Loss))
        {
            RejectDiverged(push, NotFinite);
            return false;
        }
        if (_settings.Mode == TrainingMode.Sync)
        {
            return AccumulateSync(push, gradient);
        }
        ApplyAsync(push, gradient);
        return false;
    }

    private const string NotFinite = "the gradient or the loss holds NaN or infinity";
    private const string Diverged = "the step's update is not finite: the training diverged";

    private bool AccumulateSync(PushGradients push, ReceivedTensor gradient)
    {
        if (push.Version != _version)
        {
            Reject(push, push.Version < _version
                ? $"stale version {push.Version}: the weights are at version {_version}"
                : $"unknown version {push.Version}: the weights are at version {_version}");
            return false;
        }
        if (_stepSamples > 0 && (push.Step != _stepOfVersion || push.StepSamples != _stepExpected))
        {
            Reject(push, $"step {push.Step} of {push.StepSamples} samples does not match the open step {_stepOfVersion} of {_stepExpected}");
            return false;
        }
        if (push.Part < 0)
        {
            Reject(push, $"part {push.Part} of step {push.Step} is negative");
            return false;
        }
        if (_stepParts.Contains(push.Part))
        {
            Reject(push, $"duplicate: part {push.Part} of step {push.Step} was already counted");
            return false;
        }
        var open = _stepSamples > 0 ? _stepExpected - _stepSamples : push.StepSamples;
        if (push.SampleCount > open)
        {
            Reject(push, $"{push.SampleCount} samples exceed the {open} still open in step {push.Step}");
            return false;
        }
        var last = push.SampleCount == open;

        // Held parts cost no copy: the pushed array (or its chunks) is read when its turn comes. A pooled array from the
        // bulk channel is taken from the assembler, which would otherwise recycle it at its next call while still held.
        var at = _heldParts.Count;
        while (at > 0 && _heldParts[at - 1].Part > push.Part)
        {
            at--;
        }
        var arriving = new HeldPart(push.Part, gradient, push.Lease, null);
        _heldParts.Insert(at, arriving);
        // The fused step reads the highest part in place (inline tensors); with two parts and nothing summed yet, both.
        var extra = _heldParts[^1].Gradient.Contiguous;
        var first = _partsSummed == 0 && _heldParts.Count == 2 && extra is not null ? _heldParts[0].Gradient.Contiguous : null;
        var checkedByStep = last && extra is not null && (at == _heldParts.Count - 1 || (first is not null && at == 0));
        // Any other part is checked now, while the step still waits for others; the last one, read in place, is
        // checked by the optimizer's own pass, which leaves everything unchanged if it finds NaN or infinity.
        if (!checkedByStep && !IsFinite(push, gradient))
        {
            _heldParts.RemoveAt(at);
            RejectDiverged(push, NotFinite);
            return false;
        }
        if (_assembler.TryKeep(out var kept))
        {
            _heldParts[at] = arriving with { Kept = kept };
        }
        if (_stepSamples == 0)
        {
            _stepOfVersion = push.Step;
            _stepExpected = push.StepSamples;
        }
        var accepted = new GradientAccepted(push.WorkerId, push.Epoch, push.Step, push.Part, _version, push.SampleCount, push.Loss, push.ComputeMicros, push.Correct);
        if (!last)
        {
            Count(push);
            TellCoordinator(accepted);
            // A part is summed once the part after it is here: the newest stays unread, so that with two parts the
            // fused step reads both in place and no pass copies the first into the sum.
            while (_heldParts.Count > 1 && _heldParts[0].Part == _partsSummed && _heldParts[1].Part == _partsSummed + 1)
            {
                SumHeldPart();
            }
            return true;
        }

        // Every part is in: the held ones follow the summed ones in part order. Those the fused step does not read in
        // place go into the sum first.
        if (first is null)
        {
            while (_heldParts.Count > (extra is null ? 0 : 1))
            {
                SumHeldPart();
            }
        }
        // Two in place, or the whole step in one part (nothing summed), or the sum plus at most one part in place.
        var (gradients, more) = first is not null ? (first, extra!)
            : _partsSummed == 0 && extra is not null ? (extra, [])
            : (_sum, extra ?? []);
        if (!TryApplyStep(gradients, more, _stepSamples + push.SampleCount, _subscribers, out var outgoing))
        {
            if (checkedByStep && !IsFinite(push, gradient))
            {
                var index = _heldParts.FindIndex(h => h.Part == push.Part);
                ChunkArrayPool.Received.Return(_heldParts[index].Kept); // its lease is released by OnPush
                _heldParts.RemoveAt(index);
                RejectDiverged(push, NotFinite);
                return false;
            }
            // Every part is finite, but the update is not: the training diverged. Re-sending a part cannot help.
            _log.Error("parameter server cannot apply step {0}: its update makes the weights or the optimizer state NaN or infinite; the training diverged (a lower learning rate may help)", push.Step);
            ClearStep();
            RejectDiverged(push, Diverged);
            return true; // its lease went with the step's other parts
        }
        Count(push);
        var applied = new StepApplied(_stepOfVersion, _version, _stepSamples, _stepLoss);
        ClearStep();
        // The coordinator hears of the last part first: on a shared thread it then hands out the next step's work
        // before the worker there starts this one (elsewhere the order costs nothing).
        TellCoordinator(accepted);
        SendSnapshot(outgoing);
        if (_statePulls.Count > 0)
        {
            SendDueStates(); // after the broadcast: a checkpoint never delays the next step's start
        }
        TellCoordinator(applied);
        return true;
    }

    /// <summary>The sending worker's own finding for an in-process push that has one, else a pass over the values.</summary>
    private static bool IsFinite(PushGradients push, ReceivedTensor gradient) =>
        push.Lease is not null && push.SenderFoundFinite is { } found ? found : gradient.AllFinite();

    /// <summary>Counts an accepted part in the open step.</summary>
    private void Count(PushGradients push)
    {
        _stepParts.Add(push.Part);
        _stepSamples += push.SampleCount;
        _stepLoss += push.Loss;
    }

    /// <summary>Adds the lowest held part to the sum and lets its array go.</summary>
    private void SumHeldPart()
    {
        AddToSum(_heldParts[0].Gradient);
        _heldParts[0].Release();
        _heldParts.RemoveAt(0);
    }

    private void TellCoordinator(object message)
    {
        if (_coordinator is not null)
        {
            _coordinator.Tell(message, Self);
        }
        else if (_untold.Count < MaxUntold)
        {
            _untold.Enqueue(message);
        }
    }

    /// <summary>The first part starts the sum (no clearing pass, no read of zeros); the others add to it.</summary>
    private void AddToSum(ReceivedTensor gradient)
    {
        if (_partsSummed == 0)
        {
            gradient.CopyTo(_sum);
        }
        else
        {
            gradient.AddTo(_sum);
        }
        _partsSummed++;
    }

    /// <summary>Forgets the open step and returns the arrays of its held parts.</summary>
    private void ClearStep()
    {
        foreach (var held in _heldParts)
        {
            held.Release();
        }
        _heldParts.Clear();
        _stepParts.Clear();
        _partsSummed = 0;
        _stepSamples = 0;
        _stepExpected = 0;
        _stepLoss = 0;
        _stepOfVersion = -1;
    }

    private void ApplyAsync(PushGradients push, ReceivedTensor gradient)
    {
        var key = (push.Step, push.Part);
        if (_completed.Contains(key))
        {
            Reject(push, $"duplicate: step {push.Step} part {push.Part} was already applied");
            return;
        }
        var values = gradient.Contiguous;
        if (values is null)
        {
            gradient.CopyTo(_sum);
            values = _sum;
        }
        _receivers.Clear();
        _receivers.Add(Sender);
        if (!TryApplyStep(values, [], push.SampleCount, _receivers, out var outgoing))
        {
            RejectDiverged(push, gradient.AllFinite() ? Diverged : NotFinite);
            return;
        }
        SendSnapshot(outgoing);
        _completed.Add(key);
        _completedOrder.Enqueue(key);
        if (_completedOrder.Count > _settings.CompletedWorkMemory)
        {
            _completed.Remove(_completedOrder.Dequeue());
        }
        TellCoordinator(new GradientAccepted(push.WorkerId, push.Epoch, push.Step, push.Part, _version, push.SampleCount, push.Loss, push.ComputeMicros, push.Correct));
    }

    /// <summary>
    /// w ← optimizer(w, (sum + extra) / samples) into a new array, version + 1; <see cref="SendSnapshot"/> then sends
    /// the new weights to <paramref name="receivers"/>: the same array to local ones, and to remote ones
    /// <paramref name="outgoing"/>, a copy written by the same pass. False, with weights, optimizer state and version
    /// unchanged, when the new weights or state would not be finite.
    /// </summary>
    private bool TryApplyStep(float[] sum, float[] extra, int samples, IReadOnlyCollection<IActorRef> receivers, out OutgoingTensor? outgoing)
    {
        SplitReceivers(receivers);
        var next = _snapshotPool.Rent();
        outgoing = _remoteReceivers.Count > 0 ? OutgoingTensor.Rent(_weights.Length, ++_nextTransferId, _settings.ChunkFloats) : null;
        var applied = outgoing is null
            ? _spreadStep.TryStep(_weights, sum, extra, 1f / samples, next)
            : _optimizer.TryStep(_weights, sum, extra, 1f / samples, next, outgoing.Buffer);
        if (!applied)
        {
            _snapshotPool.Return(next);
            outgoing?.Release();
            outgoing = null;
            return false;
        }
        ReplaceWeights(next);
        _version++;
        return true;
    }

    /// <summary>The server's weights become <paramref name="next"/>; the old array goes back once no worker reads it.</summary>
    private void ReplaceWeights(float[] next)
    {
        _weightsLease.Release();
        _weights = next;
        _weightsLease = _snapshotPool.Lease(next, 1);
    }

    private void Reject(PushGradients push, string reason)
    {
        var duplicate = reason.StartsWith("duplicate", StringComparison.Ordinal);
        var message = "parameter server rejected the gradient of worker {0} for step {1} part {2}: {3}; weights unchanged at version {4}";
        if (duplicate)
        {
            _log.Info(message, push.WorkerId, push.Step, push.Part, reason, _version);
        }
        else
        {
            _log.Warning(message, push.WorkerId, push.Step, push.Part, reason, _version);
        }
        Sender.Tell(new GradientRejected(push.WorkerId, push.Step, push.Part, _version, reason), Self);
        if (_settings.Mode == TrainingMode.Async)
        {
            SendSnapshot(Sender); // the worker waits for fresh weights after every push
        }
    }

    /// <summary>Rejects a push that NaN or infinity made useless, and tells the coordinator: re-sending it cannot help.</summary>
    private void RejectDiverged(PushGradients push, string reason)
    {
        Reject(push, reason);
        TellCoordinator(new TrainingDiverged(push.WorkerId, push.Step, push.Part, _version, reason));
    }

    private void SendSnapshot(IActorRef receiver)
    {
        _receivers.Clear();
        _receivers.Add(receiver);
        SplitReceivers(_receivers);
        SendSnapshot();
    }

    private void SplitReceivers(IReadOnlyCollection<IActorRef> receivers)
    {
        _localReceivers.Clear();
        _remoteReceivers.Clear();
        foreach (var receiver in receivers)
        {
            (LocalTensor.IsLocal(Context.System, receiver) ? _localReceivers : _remoteReceivers).Add(receiver);
        }
    }

    /// <summary>
    /// The weights to every receiver split by <see cref="SplitReceivers"/>: local ones share the server's own array
    /// (it never changes; each receiver releases its share of the lease after its last read), remote ones get it
    /// chunked when large and flow-controlled (<paramref name="outgoing"/> when the step already wrote that copy); the
    /// message objects are the same for every receiver.
    /// </summary>
    private void SendSnapshot(OutgoingTensor? outgoing = null)
    {
        if (_localReceivers.Count > 0)
        {
            _weightsLease.Share(_localReceivers.Count);
            var local = new ParametersSnapshot(_version, _weights.Length, 0, _weights) { Lease = _weightsLease };
            foreach (var receiver in _localReceivers)
            {
                receiver.Tell(local, Self);
            }
        }
        if (_remoteReceivers.Count > 0)
        {
            var tensor = outgoing ?? OutgoingTensor.Create(_weights, ++_nextTransferId, _settings.ChunkFloats);
            var snapshot = new ParametersSnapshot(_version, tensor.Length, tensor.TransferId, tensor.Inline);
            foreach (var receiver in _remoteReceivers)
            {
                tensor.SendTo(Context.System, receiver, snapshot, Self); // chunked + flow-controlled across nodes
            }
            tensor.Release(); // its chunk arrays are reused once the bulk writers are done
        }
    }

    /// <summary>A part waiting for its turn in the sum: its lease (in-process push) or the pooled array it keeps (bulk channel).</summary>
    private readonly record struct HeldPart(int Part, ReceivedTensor Gradient, TensorLease? Lease, float[]? Kept)
    {
        public void Release()
        {
            Lease?.Release();
            ChunkArrayPool.Received.Return(Kept);
        }
    }
}
