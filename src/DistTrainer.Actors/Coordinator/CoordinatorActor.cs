using System.Diagnostics;
using Akka.Actor;
using Akka.Event;
using DistTrainer.Actors.Messages;
using DistTrainer.Actors.Transfer;
using DistTrainer.Numerics.Training;

namespace DistTrainer.Actors.Coordinator;

/// <summary>
/// Owns the job: each epoch's seeded order (<see cref="EpochOrder"/>), the global sample cursor, the work handed to
/// each worker, membership (DeathWatch) and evaluation. It never holds the training data or does the heavy math.
/// <para>
/// Sync: global batch b of an epoch is <c>order[b·batch ..]</c>, split into contiguous parts among the live workers
/// (ordered by id). The parameter server applies the step once all parts are in; then the next step starts. A part
/// whose worker dies is re-sent at once to a survivor; a part with no accepted gradient within the step timeout is
/// re-sent to another live worker and the late worker is logged. Re-sent work keeps its (step, part) key, so
/// whichever copy arrives first counts and the other is refused: every sample is used exactly once per epoch.
/// </para>
/// <para>Async: the epoch's global batches are a work queue; each idle worker gets the next one.</para>
/// <para>
/// Checkpoints (<see cref="CoordinatorSettings.Checkpoints"/>): at each epoch end the coordinator pulls the weights and
/// the optimizer state (<see cref="PullTrainingState"/>) instead of the weights alone and hands a
/// <see cref="CheckpointTaken"/> to its listener after the epoch's report. Every N sync steps it asks, when it hands out
/// the step that makes version N·k, for the state at that version: the server answers right after applying it, so no
/// step waits for a checkpoint (and one the server has already passed is skipped and logged).
/// A resumed job (<see cref="CoordinatorSettings.Resume"/>) first restores the server, then starts at the saved position.
/// </para>
/// Phases: [Restoring →] WaitingForWorkers → Training ⇄ Evaluating → Finished.
/// </summary>
public sealed class CoordinatorActor : ReceiveActor, IWithTimers, IWithStash
{
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly CoordinatorSettings _settings;
    private readonly IActorRef _parameterServer;
    private readonly Func<float[], Evaluation>? _evaluate;
    private readonly IActorRef? _listener;
    private readonly ChunkAssembler _assembler;
    private readonly Dictionary<IActorRef, WorkerState> _workers = [];
    private readonly List<EpochReport> _reports = [];
    private readonly List<int> _samplesSeenPerEpoch = [];
    private readonly int[] _order;
    private readonly bool[] _seen;

    // Epoch state.
    private int _epoch = -1;
    private int _samplesSeen;
    private int _duplicates;
    private double _lossSum;
    private int _redriven;
    private long _epochStarted;
    private double _epochSeconds;
    private double _epochSecondsBefore; // a resumed epoch's training time before the resume

    // Checkpoints: the open state requests and what they stand for.
    private long _nextRequest;
    private long _nextTransferId;
    private long _epochStateRequest;
    private long _stepStateRequest;
    private long _stepStateVersion = -1;
    private TrainingPosition? _stepPosition;
    private (float[] Weights, float[] State)? _stepState;
    private CheckpointTaken? _epochCheckpoint;

    // Sync state: the open step's parts.
    private long _version;
    private int _batchIndex;
    private readonly List<Part> _parts = [];
    private long _stepStarted;
    private int _stepSamples;

    // Async state.
    private readonly LinkedList<int> _queue = new();
    private readonly Dictionary<int, List<Assignment>> _outstanding = [];
    private bool[] _batchDone = [];
    private int _batchesDone;

    public CoordinatorActor(CoordinatorSettings settings, IActorRef parameterServer, Func<float[], Evaluation>? evaluate, IActorRef? listener)
    {
        if (settings.TrainCount < 1 || settings.BatchSize < 1 || settings.Epochs < 1 || settings.MinWorkers < 1)
        {
            throw new ArgumentException($"invalid job: {settings}", nameof(settings));
        }
        _settings = settings;
        _parameterServer = parameterServer;
        _evaluate = evaluate;
        _listener = listener;
        _assembler = new ChunkAssembler(settings.MaxOpenTransfers, TrainingStateTensor.MaxLength(settings.ParameterCount));
        _order = new int[settings.TrainCount];
        _seen = new bool[settings.TrainCount];
        if (settings.Resume is { } resume)
        {
            settings.CheckResume();
            _version = resume.Position.Version;
            Restoring();
        }
        else
        {
            WaitingForWorkers();
        }
    }

    public static Props Props(CoordinatorSettings settings, IActorRef parameterServer, Func<float[], Evaluation>? evaluate, IActorRef? listener) =>
        Akka.Actor.Props.Create(() => new CoordinatorActor(settings, parameterServer, evaluate, listener));

    public ITimerScheduler Timers { get; set; } = null!;

    public IStash Stash { get; set; } = null!;

    protected override void PreStart()
    {
        var interval = TimeSpan.FromTicks(Math.Max(TimeSpan.FromMilliseconds(20).Ticks, _settings.StepTimeout.Ticks / 4));
        Timers.StartPeriodicTimer("watchdog", Watchdog.Instance, interval);
        _parameterServer.Tell(new RegisterCoordinator(_settings.ParameterCount), Self);
        if (_settings.Resume is { } resume)
        {
            var version = resume.Position.Version;
            var weightCount = resume.Weights.Length;
            TrainingStateTensor.Send(Context.System, _parameterServer, TrainingStateTensor.Concat(resume.Weights, resume.OptimizerState), ++_nextTransferId,
                _settings.ChunkFloats, (length, transferId, data) => new RestoreTrainingState(version, weightCount, length, transferId, data), Self);
        }
    }

    private IEnumerable<WorkerState> Live => _workers.Values.Where(w => w.Alive).OrderBy(w => w.Id);

    // ---------------------------------------------------------------- phases

    private void Restoring()
    {
        Receive<TrainingStateRestored>(m =>
        {
            if (m.Error is not null || m.Version != _version)
            {
                Fail($"the parameter server did not restore the checkpoint of step {_version}: {m.Error ?? $"it is at step {m.Version}"}");
                return;
            }
            var p = _settings.Resume!.Position;
            _log.Info("parameter server restored step {0}; resuming at epoch {1}, batch {2}", m.Version, p.Epoch + 1, p.BatchIndex);
            Become(WaitingForWorkers);
            if (Live.Count() >= _settings.MinWorkers)
            {
                Begin();
            }
        });
        Receive<RegisterWorker>(OnRegister);
        Receive<Terminated>(OnTerminated);
        Receive<Watchdog>(_ => _log.Debug("waiting for the parameter server to restore the checkpoint"));
        ReceiveAny(m => _log.Debug("coordinator ignored {0} while restoring a checkpoint", m.GetType().Name));
    }

    private void WaitingForWorkers()
    {
        Receive<RegisterWorker>(m =>
        {
            OnRegister(m);
            if (Live.Count() >= _settings.MinWorkers)
            {
                _log.Info("{0} workers registered; training starts ({1} mode, {2} epochs, batch {3})", Live.Count(), _settings.Mode, _settings.Epochs, _settings.BatchSize);
                Begin();
            }
        });
        Receive<Terminated>(OnTerminated);
        Receive<Watchdog>(_ => _log.Warning("waiting for workers: {0} of {1} registered", Live.Count(), _settings.MinWorkers));
        ReceiveAny(m => _log.Debug("coordinator ignored {0} while waiting for workers", m.GetType().Name));
    }

    private void Training()
    {
        Receive<RegisterWorker>(m =>
        {
            OnRegister(m);
            ResumeOrphanedWork();
        });
        Receive<GradientAccepted>(OnAccepted);
        Receive<StepApplied>(OnStepApplied);
        Receive<GradientRejected>(m => _log.Debug("coordinator: rejected step {0} part {1}: {2}", m.Step, m.Part, m.Reason));
        Receive<Terminated>(OnTerminated);
        Receive<Watchdog>(_ => OnWatchdog());
        Receive<TensorChunk>(OnChunk);
        Receive<ParametersSnapshot>(OnResyncSnapshot);
        Receive<TrainingState>(OnTrainingState);
    }

    private void Evaluating()
    {
        Receive<TensorChunk>(OnChunk);
        Receive<ParametersSnapshot>(OnEpochSnapshot);
        Receive<TrainingState>(OnTrainingState);
        Receive<EvaluationDone>(OnEvaluationDone);
        Receive<Terminated>(OnTerminated);
        Receive<RegisterWorker>(OnRegister);
        Receive<Watchdog>(_ => { });
        Receive<GradientAccepted>(m => _log.Debug("coordinator ignored a late acceptance of step {0} part {1}", m.Step, m.Part));
        Receive<StepApplied>(_ => { });
    }

    private void Finished()
    {
        Receive<Terminated>(_ => { });
        Receive<Watchdog>(_ => Timers.CancelAll());
        ReceiveAny(m => _log.Debug("coordinator: job finished, ignored {0}", m.GetType().Name));
    }

    // ---------------------------------------------------------------- membership

    private void OnRegister(RegisterWorker m)
    {
        if (m.ParameterCount != _settings.ParameterCount)
        {
            var reason = $"the worker's model has {m.ParameterCount} parameters, the job's {_settings.ParameterCount}";
            _log.Warning("coordinator refused worker {0}: {1}", m.WorkerId, reason);
            Sender.Tell(new WorkerRejected(m.WorkerId, reason), Self);
            return;
        }
        if (_workers.Values.Any(w => w.Alive && w.Id == m.WorkerId && !w.Ref.Equals(Sender)))
        {
            var reason = $"worker id {m.WorkerId} is already taken";
            _log.Warning("coordinator refused a worker: {0}", reason);
            Sender.Tell(new WorkerRejected(m.WorkerId, reason), Self);
            return;
        }
        if (!_workers.ContainsKey(Sender))
        {
            _workers[Sender] = new WorkerState(m.WorkerId, Sender);
            Context.Watch(Sender);
            _log.Info("worker {0} joined ({1})", m.WorkerId, Sender.Path);
        }
        Sender.Tell(new WorkerRegistered(m.WorkerId, _settings.Mode), Self);
    }

    private void OnTerminated(Terminated t)
    {
        if (!_workers.TryGetValue(t.ActorRef, out var worker) || !worker.Alive)
        {
            return;
        }
        worker.Alive = false;
        _assembler.Forget(t.ActorRef);
        _log.Warning("worker {0} is gone; {1} workers left", worker.Id, Live.Count());
        if (_epoch < 0)
        {
            return;
        }
        if (!Live.Any())
        {
            if (_settings.FailWhenNoWorkers)
            {
                Fail("every worker is gone");
            }
            return;
        }
        ResumeOrphanedWork();
    }

    /// <summary>Sends the work held by dead workers (or by nobody) to live ones.</summary>
    private void ResumeOrphanedWork()
    {
        if (_epoch < 0)
        {
            return;
        }
        if (_settings.Mode == TrainingMode.Sync)
        {
            foreach (var part in _parts.Where(p => !p.Accepted && !p.Worker.Alive).ToList())
            {
                Redrive(part, $"worker {part.Worker.Id} is gone");
            }
        }
        else
        {
            foreach (var (batch, copies) in _outstanding.ToList())
            {
                copies.RemoveAll(a => !a.Worker.Alive);
                if (copies.Count == 0)
                {
                    _outstanding.Remove(batch);
                    _queue.AddFirst(batch);
                    _redriven++;
                }
            }
            DispatchAsync();
        }
    }

    // ---------------------------------------------------------------- epochs

    private void Begin()
    {
        if (_settings.Resume is { } resume)
        {
            StartEpoch(resume.Position.Epoch, resume.Position);
        }
        else
        {
            StartEpoch(0);
        }
    }

    /// <summary>Starts <paramref name="epoch"/>, or continues it at <paramref name="at"/> (a checkpoint's position).</summary>
    private void StartEpoch(int epoch, TrainingPosition? at = null)
    {
        _epoch = epoch;
        EpochOrder.Fill(_settings.Seed, epoch, _order);
        Array.Clear(_seen);
        _samplesSeen = 0;
        _duplicates = 0;
        _lossSum = 0;
        _redriven = 0;
        _epochSecondsBefore = at?.EpochSeconds ?? 0;
        var firstBatch = at?.BatchIndex ?? 0;
        if (firstBatch > 0)
        {
            // The batches before the checkpoint were trained on before the resume: they count as seen once.
            var consumed = Math.Min(firstBatch * _settings.BatchSize, _settings.TrainCount);
            foreach (var row in _order.AsSpan(0, consumed))
            {
                _seen[row] = true;
            }
            _samplesSeen = consumed;
            _lossSum = at!.EpochLossSum;
        }
        foreach (var w in _workers.Values)
        {
            w.ResetEpoch();
        }
        _epochStarted = Stopwatch.GetTimestamp();
        Become(Training);
        if (_settings.Mode == TrainingMode.Sync)
        {
            _batchIndex = firstBatch;
            StartStep();
        }
        else
        {
            _queue.Clear();
            _outstanding.Clear();
            for (var b = firstBatch; b < _settings.StepsPerEpoch; b++)
            {
                _queue.AddLast(b);
            }
            _batchDone = new bool[_settings.StepsPerEpoch];
            Array.Fill(_batchDone, true, 0, firstBatch);
            _batchesDone = firstBatch;
            foreach (var w in _workers.Values)
            {
                w.Busy = false;
            }
            DispatchAsync();
        }
    }

    private void EndEpoch()
    {
        _epochSeconds = _epochSecondsBefore + Stopwatch.GetElapsedTime(_epochStarted).TotalSeconds;
        _samplesSeenPerEpoch.Add(_samplesSeen);
        if (_samplesSeen != _settings.TrainCount || _duplicates != 0)
        {
            _log.Error("epoch {0} used {1} samples ({2} twice), expected each of {3} once", _epoch + 1, _samplesSeen, _duplicates, _settings.TrainCount);
        }
        Become(Evaluating);
        PullEpochEnd();
    }

    private void PullEpochEnd()
    {
        if (_settings.Checkpoints)
        {
            _epochStateRequest = ++_nextRequest;
            _parameterServer.Tell(new PullTrainingState(_epochStateRequest, -1), Self);
        }
        else
        {
            _parameterServer.Tell(new PullParameters(-1), Self);
        }
    }

    private void OnEpochSnapshot(ParametersSnapshot snapshot)
    {
        try
        {
            TakeEpochSnapshot(snapshot);
        }
        finally
        {
            snapshot.Lease?.Release(); // the weights are copied out before evaluation
        }
    }

    private void TakeEpochSnapshot(ParametersSnapshot snapshot)
    {
        if (!_assembler.TryTake(Sender, snapshot.Length, snapshot.TransferId, snapshot.Weights, _settings.ParameterCount, out var tensor, out var reason))
        {
            _log.Warning("coordinator rejected weights version {0}: {1}; asking again", snapshot.Version, reason);
            _parameterServer.Tell(new PullParameters(-1), Self);
            return;
        }
        var weights = new float[_settings.ParameterCount];
        tensor.CopyTo(weights);
        Evaluate(weights, snapshot.Version);
    }

    private void Evaluate(float[] weights, long version)
    {
        _version = Math.Max(_version, version);
        var evaluate = _evaluate;
        if (evaluate is null)
        {
            Self.Tell(new EvaluationDone(weights, version, null));
            return;
        }
        // Evaluation runs on the thread pool, off the actor's dispatcher; the result comes back as a message.
        Task.Run(() => evaluate(weights)).PipeTo(Self, Self,
            success: e => new EvaluationDone(weights, version, e),
            failure: e => new EvaluationDone(weights, version, null, e.Message));
    }

    private void OnEvaluationDone(EvaluationDone done)
    {
        if (done.Error is not null)
        {
            _log.Error("evaluation of epoch {0} failed: {1}", _epoch + 1, done.Error);
        }
        var workers = _workers.Values.OrderBy(w => w.Id).Select(w => w.Stats()).ToList();
        var report = new EpochReport(_epoch + 1, _lossSum / Math.Max(1, _samplesSeen), _samplesSeen, _epochSeconds,
            _samplesSeen / Math.Max(1e-9, _epochSeconds), done.Test, workers, done.Version, _redriven, _duplicates);
        _reports.Add(report);
        _listener?.Tell(report, Self);
        if (_epochCheckpoint is { } checkpoint)
        {
            _listener?.Tell(checkpoint, Self); // after the report, so the listener's history holds this epoch
            _epochCheckpoint = null;
        }
        if (_epoch + 1 < _settings.Epochs)
        {
            StartEpoch(_epoch + 1);
            return;
        }
        _log.Info("training finished: {0} epochs, version {1}", _settings.Epochs, done.Version);
        _listener?.Tell(new TrainingFinished(_reports.ToList(), done.Weights, done.Version, _samplesSeenPerEpoch.ToArray()), Self);
        Become(Finished);
    }

    private void Fail(string reason)
    {
        _log.Error("training failed: {0}", reason);
        _listener?.Tell(new TrainingFailed(reason), Self);
        Become(Finished);
    }

    // ---------------------------------------------------------------- sync steps

    private void StartStep()
    {
        RequestStepCheckpoint(); // before the step's work goes out, so the server hears of it first
        var start = _batchIndex * _settings.BatchSize;
        var count = Math.Min(_settings.BatchSize, _settings.TrainCount - start);
        var live = Live.ToList();
        _parts.Clear();
        _stepStarted = Stopwatch.GetTimestamp();
        if (live.Count == 0)
        {
            return; // the watchdog and the next registration pick the step up
        }
        _stepSamples = count;
        var k = Math.Min(live.Count, count);
        var offset = start;
        for (var i = 0; i < k; i++)
        {
            var size = count / k + (i < count % k ? 1 : 0);
            var part = new Part(i, offset, size, live[i]);
            _parts.Add(part);
            offset += size;
            SendPart(part);
        }
    }

    private void SendPart(Part part)
    {
        part.SentAt = Stopwatch.GetTimestamp();
        var rows = _order.AsSpan(part.Offset, part.Count).ToArray();
        part.Worker.Ref.Tell(new ComputeGradient(_epoch, _version, _batchIndex, part.Index, _version, part.Attempt, _stepSamples, rows), Self);
    }

    private void Redrive(Part part, string why)
    {
        var target = Live.Where(w => !ReferenceEquals(w, part.Worker)).OrderBy(w => _parts.Count(p => !p.Accepted && ReferenceEquals(p.Worker, w))).ThenBy(w => w.Id).FirstOrDefault()
            ?? Live.FirstOrDefault();
        if (target is null)
        {
            _log.Warning("step {0} part {1}: {2}, and no live worker can take it", _version, part.Index, why);
            return;
        }
        _log.Warning("step {0} part {1}: {2}; re-sent to worker {3}", _version, part.Index, why, target.Id);
        part.Worker = target;
        part.Attempt++;
        _redriven++;
        SendPart(part);
    }

    private void OnStepApplied(StepApplied applied)
    {
        if (_settings.Mode == TrainingMode.Sync && applied.Version == _version && _parts.Count > 0)
        {
            return; // the usual case: the step's acceptances already moved on to this version
        }
        if (_settings.Mode != TrainingMode.Sync || applied.Version != _version + 1)
        {
            _log.Debug("coordinator ignored StepApplied for version {0} (at {1})", applied.Version, _version);
            return;
        }
        AdvanceTo(applied.Version);
    }

    private void AdvanceTo(long version)
    {
        foreach (var part in _parts)
        {
            // In part order, not arrival order: the epoch's loss is then the same in every run (and after a resume).
            _lossSum += part.Accepted ? part.Loss : 0;
        }
        if (_parts.Any(p => !p.Accepted))
        {
            _log.Error("step {0} applied with parts not reported; the sample count of epoch {1} will show it", _version, _epoch + 1);
        }
        _version = version;
        _batchIndex++;
        if (_batchIndex >= _settings.StepsPerEpoch)
        {
            EndEpoch();
        }
        else
        {
            if (version == _stepStateVersion)
            {
                _stepPosition = new TrainingPosition(_epoch, _batchIndex, _version, _lossSum, _epochSecondsBefore + Stopwatch.GetElapsedTime(_epochStarted).TotalSeconds);
                DeliverStepCheckpoint();
            }
            StartStep();
        }
    }

    /// <summary>
    /// When the step about to start makes a checkpoint version (and does not end the epoch, which checkpoints anyway),
    /// asks the server ahead for its state at that version. Training never waits for the answer.
    /// </summary>
    private void RequestStepCheckpoint()
    {
        var next = _version + 1;
        if (!_settings.Checkpoints || _settings.CheckpointEvery <= 0 || next % _settings.CheckpointEvery != 0
            || _batchIndex + 1 >= _settings.StepsPerEpoch || next == _stepStateVersion)
        {
            return;
        }
        _stepStateRequest = ++_nextRequest;
        _stepStateVersion = next;
        _stepPosition = null;
        _stepState = null;
        _parameterServer.Tell(new PullTrainingState(_stepStateRequest, next), Self);
    }

    /// <summary>The server's state and the coordinator's position of a checkpoint step arrive in either order.</summary>
    private void DeliverStepCheckpoint()
    {
        if (_stepPosition is not { } position || _stepState is not { } state)
        {
            return;
        }
        _listener?.Tell(new CheckpointTaken(position, state.Weights, state.State), Self);
        _stepStateRequest = 0;
        _stepPosition = null;
        _stepState = null;
    }

    private void OnTrainingState(TrainingState m)
    {
        var ok = _assembler.TryTake(Sender, m.Length, m.TransferId, m.Data, m.Length, out var tensor, out var reason);
        if (ok && (m.WeightCount != _settings.ParameterCount || m.Length < m.WeightCount || m.Length > TrainingStateTensor.MaxLength(_settings.ParameterCount)))
        {
            ok = false;
            reason = $"{m.WeightCount} weights in a state of {m.Length} values, expected {_settings.ParameterCount} weights";
        }
        float[] weights = [];
        float[] state = [];
        if (ok)
        {
            weights = new float[m.WeightCount];
            state = new float[m.Length - m.WeightCount];
            var data = new float[m.Length];
            tensor.CopyTo(data);
            data.AsSpan(0, m.WeightCount).CopyTo(weights);
            data.AsSpan(m.WeightCount).CopyTo(state);
        }
        if (m.RequestId == _epochStateRequest && _epochStateRequest != 0)
        {
            if (!ok)
            {
                _log.Warning("coordinator rejected the state of version {0}: {1}; asking again", m.Version, reason);
                PullEpochEnd();
                return;
            }
            _epochStateRequest = 0;
            _epochCheckpoint = new CheckpointTaken(new TrainingPosition(_epoch + 1, 0, m.Version, 0, 0), weights, state);
            Evaluate(weights, m.Version);
            return;
        }
        if (m.RequestId == _stepStateRequest && _stepStateRequest != 0)
        {
            if (!ok || m.Version != _stepStateVersion)
            {
                _log.Warning("coordinator: no checkpoint at step {0}: {1}", _stepStateVersion,
                    ok ? $"the parameter server was already at step {m.Version}" : reason);
                _stepStateRequest = 0;
                _stepPosition = null;
                return;
            }
            _stepState = (weights, state);
            DeliverStepCheckpoint();
            return;
        }
        _log.Debug("coordinator ignored the state of request {0}", m.RequestId);
    }

    /// <summary>A snapshot pulled by the watchdog because a step looked applied but no StepApplied came.</summary>
    private void OnResyncSnapshot(ParametersSnapshot snapshot)
    {
        _assembler.TryTake(Sender, snapshot.Length, snapshot.TransferId, snapshot.Weights, _settings.ParameterCount, out _, out _);
        snapshot.Lease?.Release();
        if (_settings.Mode == TrainingMode.Sync && snapshot.Version == _version + 1 && _parts.All(p => p.Accepted))
        {
            _log.Warning("step {0}: the parameter server applied it but its notice was lost; moving on", _version);
            AdvanceTo(snapshot.Version);
        }
    }

    // ---------------------------------------------------------------- async work queue

    private void DispatchAsync()
    {
        foreach (var worker in Live.Where(w => !w.Busy).ToList())
        {
            if (_queue.First is not { } next)
            {
                return;
            }
            _queue.RemoveFirst();
            Assign(next.Value, worker, attempt: 0);
        }
    }

    private void Assign(int batch, WorkerState worker, int attempt)
    {
        var start = batch * _settings.BatchSize;
        var count = Math.Min(_settings.BatchSize, _settings.TrainCount - start);
        var rows = _order.AsSpan(start, count).ToArray();
        var step = (long)_epoch * _settings.StepsPerEpoch + batch;
        if (!_outstanding.TryGetValue(batch, out var copies))
        {
            _outstanding[batch] = copies = [];
        }
        copies.Add(new Assignment(worker, Stopwatch.GetTimestamp()));
        worker.Busy = true;
        worker.Ref.Tell(new ComputeGradient(_epoch, step, batch, 0, -1, attempt, count, rows), Self);
    }

    // ---------------------------------------------------------------- acceptance and the watchdog

    private void OnAccepted(GradientAccepted accepted)
    {
        var worker = _workers.Values.FirstOrDefault(w => w.Id == accepted.WorkerId && w.Alive)
            ?? _workers.Values.FirstOrDefault(w => w.Id == accepted.WorkerId);
        if (_settings.Mode == TrainingMode.Sync)
        {
            if (accepted.Epoch != _epoch || accepted.Step != _version)
            {
                _log.Debug("coordinator ignored an acceptance for step {0} (open step {1})", accepted.Step, _version);
                return;
            }
            var part = _parts.FirstOrDefault(p => p.Index == accepted.Part);
            if (part is null || part.Accepted)
            {
                _log.Warning("step {0} part {1} was reported twice or is unknown", accepted.Step, accepted.Part);
                return;
            }
            part.Accepted = true;
            part.Loss = accepted.Loss;
            Count(part.Offset, part.Count);
            worker?.Record(accepted, part.SentAt);
            if (AllPartsAccepted())
            {
                // The server applies a sync step in the same message as its last acceptance, so version + 1 exists
                // now: the next assignment overtakes StepApplied and waits at the worker for the broadcast weights,
                // which takes the coordinator off the step's critical path.
                AdvanceTo(_version + 1);
            }
            return;
        }

        var batch = (int)(accepted.Step - (long)accepted.Epoch * _settings.StepsPerEpoch);
        if (accepted.Epoch != _epoch || batch < 0 || batch >= _batchDone.Length || _batchDone[batch])
        {
            _log.Debug("coordinator ignored an acceptance for step {0} of epoch {1}", accepted.Step, accepted.Epoch + 1);
            return;
        }
        _batchDone[batch] = true;
        _batchesDone++;
        var start = batch * _settings.BatchSize;
        Count(start, Math.Min(_settings.BatchSize, _settings.TrainCount - start));
        _lossSum += accepted.Loss;
        if (_outstanding.Remove(batch, out var copies))
        {
            foreach (var copy in copies)
            {
                copy.Worker.Busy = false;
                if (worker is not null && ReferenceEquals(copy.Worker, worker))
                {
                    worker.Record(accepted, copy.SentAt);
                }
            }
        }
        if (_batchesDone == _batchDone.Length)
        {
            EndEpoch();
            return;
        }
        DispatchAsync();
    }

    private bool AllPartsAccepted()
    {
        foreach (var part in _parts)
        {
            if (!part.Accepted)
            {
                return false;
            }
        }
        return _parts.Count > 0;
    }

    private void Count(int offset, int count)
    {
        foreach (var row in _order.AsSpan(offset, count))
        {
            if (_seen[row])
            {
                _duplicates++;
            }
            else
            {
                _seen[row] = true;
                _samplesSeen++;
            }
        }
    }

    private void OnWatchdog()
    {
        var timeout = _settings.StepTimeout;
        if (_settings.Mode == TrainingMode.Sync)
        {
            if (_parts.Count == 0)
            {
                if (Live.Any())
                {
                    StartStep();
                }
                else
                {
                    _log.Warning("step {0} waits for a worker to join", _version);
                }
                return;
            }
            var late = _parts.Where(p => !p.Accepted && Stopwatch.GetElapsedTime(p.SentAt) > timeout).ToList();
            foreach (var part in late)
            {
                Redrive(part, $"worker {part.Worker.Id} is late (no gradient after {timeout.TotalSeconds:0.###} s)");
            }
            if (_parts.All(p => p.Accepted) && Stopwatch.GetElapsedTime(_stepStarted) > timeout)
            {
                _log.Warning("step {0}: every part is in but the parameter server has not confirmed it; asking for its version", _version);
                _stepStarted = Stopwatch.GetTimestamp();
                _parameterServer.Tell(new PullParameters(-1), Self);
            }
            return;
        }
        foreach (var (batch, copies) in _outstanding.ToList())
        {
            var newest = copies.Max(c => c.SentAt);
            if (Stopwatch.GetElapsedTime(newest) <= timeout)
            {
                continue;
            }
            var lateIds = string.Join(", ", copies.Select(c => c.Worker.Id));
            var target = Live.FirstOrDefault(w => !w.Busy) ?? copies[^1].Worker;
            _log.Warning("batch {0} of epoch {1}: worker {2} is late (no gradient after {3:0.###} s); re-sent to worker {4}",
                batch, _epoch + 1, lateIds, timeout.TotalSeconds, target.Id);
            _redriven++;
            Assign(batch, target, copies.Count);
        }
    }

    private void OnChunk(TensorChunk chunk)
    {
        if (!_assembler.Add(Sender, chunk, out var reason, out var evicted))
        {
            _log.Warning("coordinator rejected a chunk: {0}", reason);
        }
        if (evicted is not null)
        {
            _log.Warning("coordinator: {0}", evicted);
        }
    }

    // ---------------------------------------------------------------- private state and ticks

    private sealed class Watchdog : INoSerializationVerificationNeeded
    {
        public static readonly Watchdog Instance = new();

        private Watchdog()
        {
        }
    }

    private sealed record EvaluationDone(float[] Weights, long Version, Evaluation? Test, string? Error = null) : INoSerializationVerificationNeeded;

    private sealed class Part(int index, int offset, int count, WorkerState worker)
    {
        public int Index { get; } = index;
        public int Offset { get; } = offset;
        public int Count { get; } = count;
        public WorkerState Worker { get; set; } = worker;
        public int Attempt { get; set; }
        public long SentAt { get; set; }
        public bool Accepted { get; set; }
        public double Loss { get; set; }
    }

    private sealed record Assignment(WorkerState Worker, long SentAt);

    private sealed class WorkerState(int id, IActorRef actor)
    {
        private int _parts;
        private int _samples;
        private double _computeMs;
        private double _stepMs;

        public int Id { get; } = id;
        public IActorRef Ref { get; } = actor;
        public bool Alive { get; set; } = true;
        public bool Busy { get; set; }

        public void ResetEpoch() => (_parts, _samples, _computeMs, _stepMs) = (0, 0, 0, 0);

        public void Record(GradientAccepted accepted, long sentAt)
        {
            _parts++;
            _samples += accepted.SampleCount;
            _computeMs += accepted.ComputeMicros / 1000.0;
            _stepMs += Stopwatch.GetElapsedTime(sentAt).TotalMilliseconds;
        }

        public WorkerEpochStats Stats() =>
            new(Id, _parts, _samples, _parts > 0 ? _computeMs / _parts : 0, _parts > 0 ? _stepMs / _parts : 0, Alive);
    }
}
