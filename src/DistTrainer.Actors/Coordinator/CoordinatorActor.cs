using System.Diagnostics;
using Akka.Actor;
using Akka.Event;
using DistTrainer.Actors.Messages;
using DistTrainer.Actors.Transfer;
using DistTrainer.Numerics.Training;

namespace DistTrainer.Actors.Coordinator;

/// <summary>
/// Owns the job: each epoch's seeded order (<see cref="EpochOrder"/>), the global sample cursor, the shard of training
/// rows each worker holds, the work handed to each worker, membership (DeathWatch) and evaluation. It never holds the
/// training data or does the heavy math.
/// <para>
/// Shards: contiguous ranges of training rows, an even split over the live workers ordered by id
/// (<see cref="ShardLayout.Even"/>), sent as <see cref="AssignShard"/>; a worker gets work only once it answered
/// <see cref="ShardReady"/> for its latest assignment. When a worker dies, its rows and its unfinished work go at once
/// to the survivor holding the fewest rows (which reloads a superset of its shard), and the split is evened out over
/// the survivors later: at the next step not yet handed out (sync) or epoch (async). A joining worker gets a shard, and
/// work, from the next step not yet handed out (sync) or the next epoch (async).
/// </para>
/// <para>
/// Sync: global batch b of an epoch is <c>order[b·batch ..]</c>; its rows are grouped by the worker holding them, one
/// part per worker (ordered by id). The parameter server applies the step once all parts are in; then the next step
/// starts. While nothing is in flux (every part out, no reshard due), step v+1's parts go out with step v's: each
/// worker gathers its next rows while the server applies step v, and waits only for the weights. A part whose worker dies goes to the heir of its rows once the heir's shard is ready; a part with no
/// accepted gradient within the step timeout is re-sent to the worker holding its rows, and the late worker is logged.
/// Re-sent work keeps its (step, part) key, so whichever copy arrives first counts and the other is refused: every
/// sample is used exactly once per epoch.
/// </para>
/// <para>
/// Async: each worker works through its own shard: its rows in the epoch's order, cut into batches of the batch size.
/// Shards start at multiples of the batch size, so an epoch has as many batches as sync has steps. An idle worker gets
/// its next batch; a dead worker's batches go to the heir of its rows.
/// </para>
/// <para>
/// Checkpoints (<see cref="CoordinatorSettings.Checkpoints"/>): at each epoch end the coordinator pulls the weights and
/// the optimizer state (<see cref="PullTrainingState"/>) instead of the weights alone and hands a
/// <see cref="CheckpointTaken"/> to its listener after the epoch's report. Every N sync steps it asks, when it hands out
/// the step that makes version N·k, for the state at that version: the server answers right after applying it, so no
/// step waits for a checkpoint (and one the server has already passed is skipped and logged).
/// A resumed job (<see cref="CoordinatorSettings.Resume"/>) first restores the server, then starts at the saved position.
/// </para>
/// <para>
/// A step the parameter server reports as diverged (<see cref="TrainingDiverged"/>: NaN or infinity in a gradient, a
/// loss or the update) ends the job with that reason: the same work on the same weights would only fail again.
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
    // The weights each epoch is evaluated on. One array for the whole job: a new one per epoch is a large-object
    // allocation, which set off a full collection at every epoch end (3–4 ms with a large training set in memory).
    // An evaluation ends before the next epoch starts, and the last epoch's array goes out with TrainingFinished.
    private float[]? _epochWeights;

    // Shards: who holds which rows (none before the first layout), as ranges sorted by start. Finding a row's holder is
    // a binary search in a few entries that stay in cache; an entry per training row missed it at nearly every row.
    private RowRange[] _heldRanges = [];
    private WorkerState[] _holders = [];
    private readonly List<WorkerState> _cutOwners = []; // scratch of CutParts
    private bool _reshardPending = true;
    private long _nextAssignmentId;

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

    // Sync state: the open step's parts, and the next step's, sent ahead so that each worker gathers its rows for
    // step v+1 while the parameter server applies step v: the coordinator is then off the step's critical path.
    private long _version;
    private int _batchIndex;
    private List<Part> _parts = [];
    private List<Part> _nextParts = [];
    private long _stepStarted;

    // Progress: this epoch's correct count, running totals since the start, and when the listener last heard.
    private long _epochCorrect;
    private long _totalSamples;
    private double _totalLoss;
    private long _totalCorrect;
    private long _progressSent;

    // Async state: this epoch's batches, each in the queue of the worker holding its rows.
    private AsyncBatch[] _batches = [];
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
        Receive<RegisterWorker>(OnRegisterDuringTraining);
        Receive<ShardReady>(OnShardReady);
        Receive<GradientAccepted>(OnAccepted);
        Receive<StepApplied>(OnStepApplied);
        Receive<GradientRejected>(m => _log.Debug("coordinator: rejected step {0} part {1}: {2}", m.Step, m.Part, m.Reason));
        Receive<TrainingDiverged>(OnDiverged);
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
        Receive<RegisterWorker>(OnRegisterDuringTraining);
        Receive<ShardReady>(OnShardReady);
        Receive<Watchdog>(_ => { });
        Receive<GradientAccepted>(m => _log.Debug("coordinator ignored a late acceptance of step {0} part {1}", m.Step, m.Part));
        Receive<TrainingDiverged>(OnDiverged);
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
        HandOver(worker);
        if (!Live.Any())
        {
            if (_settings.FailWhenNoWorkers)
            {
                Fail("every worker is gone");
            }
            return;
        }
        if (_settings.Mode == TrainingMode.Async)
        {
            DispatchAsync();
        }
    }

    private void OnRegisterDuringTraining(RegisterWorker m)
    {
        var known = _workers.ContainsKey(Sender);
        OnRegister(m);
        if (known || !_workers.TryGetValue(Sender, out var worker) || !worker.Alive)
        {
            return;
        }
        // Rows whose holders all died wait for the first newcomer; otherwise it gets a shard at the next reshard.
        foreach (var orphaned in _workers.Values.Where(w => !w.Alive && w.Ranges.Count > 0).ToList())
        {
            HandOver(orphaned);
        }
        _reshardPending = true;
        if (_settings.Mode == TrainingMode.Async)
        {
            DispatchAsync();
        }
    }

    // ---------------------------------------------------------------- shards

    /// <summary>Splits the rows evenly over the live workers; workers whose rows change get a new assignment.</summary>
    private void Reshard()
    {
        var live = Live.ToList();
        if (live.Count == 0)
        {
            return; // stays pending until a worker joins
        }
        // Async shards start at multiples of the batch size, so cutting each into batches gives StepsPerEpoch batches.
        var layout = ShardLayout.Even(_settings.TrainCount, live.Count, _settings.Mode == TrainingMode.Sync ? 1 : _settings.BatchSize);
        foreach (var dead in _workers.Values.Where(w => !w.Alive))
        {
            dead.Ranges = [];
        }
        for (var i = 0; i < live.Count; i++)
        {
            var ranges = ShardLayout.Normalize([layout[i]]);
            if (!ranges.SequenceEqual(live[i].Ranges))
            {
                live[i].Ranges = ranges;
                SendShard(live[i]);
            }
        }
        _reshardPending = false;
        RebuildOwners();
        _log.Info("shards over {0} workers: {1}", live.Count, string.Join("; ", live.Select(w => $"worker {w.Id} {string.Join(" ", w.Ranges)}")));
    }

    /// <summary>Gives a dead worker's rows, and its unfinished work, to the live worker holding the fewest rows.</summary>
    private void HandOver(WorkerState from)
    {
        if (from.Ranges.Count == 0)
        {
            return;
        }
        var heir = Live.OrderBy(w => w.Rows).ThenBy(w => w.Id).FirstOrDefault();
        if (heir is null)
        {
            _log.Warning("the rows {0} of worker {1} wait for a worker to join", string.Join(" ", from.Ranges), from.Id);
            return;
        }
        _log.Warning("the rows {0} of worker {1} go to worker {2}", string.Join(" ", from.Ranges), from.Id, heir.Id);
        heir.Ranges = ShardLayout.Normalize(heir.Ranges.Concat(from.Ranges));
        from.Ranges = [];
        RebuildOwners();
        SendShard(heir);
        _reshardPending = true; // even the split out again at the next step (sync) or epoch (async)

        // The work goes with the rows; it keeps its key, and is sent once the heir holds them.
        foreach (var part in _parts.Concat(_nextParts).Where(p => !p.Accepted && ReferenceEquals(p.Worker, from)))
        {
            part.Worker = heir;
            if (part.Sent)
            {
                part.Sent = false;
                part.Attempt++;
                _redriven++;
            }
        }
        while (from.Queue.TryDequeue(out var queued))
        {
            heir.Queue.Enqueue(queued);
        }
        foreach (var batch in _batches.Where(b => !b.Done && ReferenceEquals(b.SentTo, from)))
        {
            batch.SentTo = null;
            batch.Attempt++;
            _redriven++;
            heir.Queue.Enqueue(batch);
        }
        from.Busy = false;
    }

    private void SendShard(WorkerState worker)
    {
        worker.Assignment = ++_nextAssignmentId;
        worker.ShardReady = false;
        ResendShard(worker);
    }

    private void ResendShard(WorkerState worker)
    {
        worker.AssignedAt = Stopwatch.GetTimestamp();
        worker.Ref.Tell(new AssignShard(worker.Assignment, worker.Id, _settings.TrainCount, [.. worker.Ranges]), Self);
    }

    private void RebuildOwners()
    {
        var held = _workers.Values
            .SelectMany(worker => worker.Ranges.Where(range => range.Count > 0).Select(range => (Range: range, Worker: worker)))
            .OrderBy(h => h.Range.Start)
            .ToArray();
        _heldRanges = [.. held.Select(h => h.Range)];
        _holders = [.. held.Select(h => h.Worker)];
    }

    private WorkerState HolderOf(int row)
    {
        var (low, high) = (0, _heldRanges.Length - 1);
        while (low <= high)
        {
            var middle = (low + high) >>> 1;
            var range = _heldRanges[middle];
            if (row < range.Start)
            {
                high = middle - 1;
            }
            else if (row >= range.End)
            {
                low = middle + 1;
            }
            else
            {
                return _holders[middle];
            }
        }
        throw new InvalidOperationException($"training row {row} has no shard");
    }

    private void OnShardReady(ShardReady ready)
    {
        if (!_workers.TryGetValue(Sender, out var worker) || !worker.Alive || ready.AssignmentId != worker.Assignment || worker.ShardReady)
        {
            _log.Debug("coordinator ignored ShardReady {0} of worker {1}", ready.AssignmentId, ready.WorkerId);
            return;
        }
        if (ready.RowCount != worker.Rows)
        {
            _log.Error("worker {0} reports {1} rows for shard {2}, which has {3}", worker.Id, ready.RowCount, string.Join(" ", worker.Ranges), worker.Rows);
        }
        worker.ShardReady = true;
        if (_settings.Mode == TrainingMode.Sync)
        {
            foreach (var part in _parts.Concat(_nextParts).Where(p => !p.Accepted && !p.Sent && ReferenceEquals(p.Worker, worker)).ToList())
            {
                SendPart(part);
            }
        }
        else
        {
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
        _epochCorrect = 0;
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
            _nextParts.Clear();
            StartStep();
        }
        else
        {
            StartAsyncEpoch();
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
        var weights = _epochWeights ??= new float[_settings.ParameterCount];
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

    /// <summary>The same work would fail the same way again: ending the job beats re-sending it at every step timeout.</summary>
    private void OnDiverged(TrainingDiverged m) =>
        Fail($"the training diverged in epoch {_epoch + 1} at step {m.Step} (weights version {m.Version}): worker {m.WorkerId}, part {m.Part}: {m.Reason}; a lower learning rate may help");

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
        _stepStarted = Stopwatch.GetTimestamp();
        if (_nextParts.Count > 0 && _nextParts[0].Step == _version)
        {
            // Sent ahead during the previous step. A reshard waits one more step: these parts name rows by holder.
            (_parts, _nextParts) = (_nextParts, _parts);
            _nextParts.Clear();
            foreach (var part in _parts)
            {
                part.SentAt = _stepStarted; // the step's time counts from its start, not from the early send
            }
        }
        else
        {
            _nextParts.Clear(); // parts of a version already passed: the workers drop them when newer weights come
            if (_reshardPending)
            {
                Reshard();
            }
            CutParts(_batchIndex, _version, _parts);
            SendReadyParts(_parts);
        }
        if (_parts.Count == 0)
        {
            return; // no live worker: the watchdog and the next registration pick the step up
        }
        // Ahead only when nothing is in flux: every part out, no reshard due, and the epoch goes on.
        if (_batchIndex + 1 < _settings.StepsPerEpoch && !_reshardPending && _parts.All(p => p.Sent))
        {
            CutParts(_batchIndex + 1, _version + 1, _nextParts);
            SendReadyParts(_nextParts);
        }
    }

    /// <summary>
    /// One part per worker holding rows of batch <paramref name="batchIndex"/> (in worker id order), the rows in the
    /// epoch's order; none while no worker is alive. Two passes over the rows, counting then filling exact arrays: in
    /// the simulation this runs on the step's busiest thread.
    /// </summary>
    private void CutParts(int batchIndex, long version, List<Part> parts)
    {
        parts.Clear();
        if (!AnyAlive())
        {
            return;
        }
        var start = batchIndex * _settings.BatchSize;
        var count = Math.Min(_settings.BatchSize, _settings.TrainCount - start);
        var rows = _order.AsSpan(start, count);
        _cutOwners.Clear();
        foreach (var row in rows)
        {
            var owner = HolderOf(row);
            if (owner.CutRows++ == 0)
            {
                _cutOwners.Add(owner);
            }
        }
        _cutOwners.Sort(static (a, b) => a.Id.CompareTo(b.Id));
        foreach (var owner in _cutOwners)
        {
            var part = new Part(version, batchIndex, count, parts.Count, new int[owner.CutRows], owner);
            parts.Add(part);
            owner.CutRows = 0; // from here on, how many of its rows are placed
        }
        foreach (var row in rows)
        {
            var owner = HolderOf(row);
            parts[_cutOwners.IndexOf(owner)].Rows[owner.CutRows++] = row;
        }
        foreach (var owner in _cutOwners)
        {
            owner.CutRows = 0;
        }
    }

    private bool AnyAlive()
    {
        foreach (var worker in _workers.Values)
        {
            if (worker.Alive)
            {
                return true;
            }
        }
        return false;
    }

    private void SendReadyParts(List<Part> parts)
    {
        foreach (var part in parts)
        {
            if (part.Worker.Alive && part.Worker.ShardReady)
            {
                SendPart(part);
            }
        }
    }

    private void SendPart(Part part)
    {
        part.Sent = true;
        part.SentAt = Stopwatch.GetTimestamp();
        part.Worker.Ref.Tell(new ComputeGradient(_epoch, part.Step, part.BatchIndex, part.Index, part.Step, part.Attempt, part.StepSamples, part.Rows), Self);
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
        ReportProgress(_batchIndex + 1);
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
    /// Asks the server for its state at the next checkpoint version (a multiple of CheckpointEvery that does not end an
    /// epoch, which checkpoints anyway) as soon as the previous request is settled, so the request reaches the server
    /// steps before that version even when the nodes' links deliver out of step. Training never waits for the answer.
    /// </summary>
    private void RequestStepCheckpoint()
    {
        var every = _settings.CheckpointEvery;
        var stepsPerEpoch = _settings.StepsPerEpoch;
        if (!_settings.Checkpoints || every <= 0 || every % stepsPerEpoch == 0 || _stepStateRequest != 0)
        {
            return;
        }
        var target = (_version / every + 1) * every;
        while (target % stepsPerEpoch == 0)
        {
            target += every; // ends within stepsPerEpoch tries: every is no multiple of stepsPerEpoch
        }
        if (target == _stepStateVersion)
        {
            return; // already asked, answered or skipped
        }
        _stepStateRequest = ++_nextRequest;
        _stepStateVersion = target;
        _stepPosition = null;
        _stepState = null;
        _parameterServer.Tell(new PullTrainingState(_stepStateRequest, target), Self);
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

    /// <summary>Cuts each worker's rows, in this epoch's order, into batches of the batch size and queues them for it.</summary>
    private void StartAsyncEpoch()
    {
        if (_reshardPending)
        {
            Reshard();
        }
        var rowsByOwner = new SortedDictionary<int, (WorkerState Worker, List<int> Rows)>();
        foreach (var row in _order)
        {
            if (_seen[row])
            {
                continue; // trained on before a resume
            }
            var owner = HolderOf(row);
            if (!rowsByOwner.TryGetValue(owner.Id, out var group))
            {
                rowsByOwner[owner.Id] = group = (owner, []);
            }
            group.Rows.Add(row);
        }
        var batches = new List<AsyncBatch>(_settings.StepsPerEpoch);
        foreach (var w in _workers.Values)
        {
            w.Queue.Clear();
            w.Busy = false;
        }
        foreach (var (owner, rows) in rowsByOwner.Values)
        {
            for (var i = 0; i < rows.Count; i += _settings.BatchSize)
            {
                var batch = new AsyncBatch(batches.Count, rows.GetRange(i, Math.Min(_settings.BatchSize, rows.Count - i)).ToArray());
                batches.Add(batch);
                owner.Queue.Enqueue(batch);
            }
        }
        if (batches.Count > _settings.StepsPerEpoch)
        {
            // Keys are epoch · StepsPerEpoch + batch: more batches would collide with the next epoch's.
            Fail($"epoch {_epoch + 1} has {batches.Count} async batches, more than {_settings.StepsPerEpoch}");
            return;
        }
        _batches = [.. batches];
        _batchesDone = 0;
        DispatchAsync();
    }

    private void DispatchAsync()
    {
        foreach (var worker in Live.Where(w => w.ShardReady && !w.Busy).ToList())
        {
            while (worker.Queue.TryDequeue(out var batch))
            {
                if (!batch.Done && batch.SentTo is null)
                {
                    Assign(batch, worker);
                    break;
                }
            }
        }
    }

    private void Assign(AsyncBatch batch, WorkerState worker)
    {
        var step = (long)_epoch * _settings.StepsPerEpoch + batch.Index;
        batch.SentTo = worker;
        batch.SentAt = Stopwatch.GetTimestamp();
        worker.Busy = true;
        worker.Ref.Tell(new ComputeGradient(_epoch, step, batch.Index, 0, -1, batch.Attempt, batch.Rows.Length, batch.Rows), Self);
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
            Count(part.Rows, accepted);
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

        var index = accepted.Step - (long)accepted.Epoch * _settings.StepsPerEpoch;
        if (accepted.Epoch != _epoch || index < 0 || index >= _batches.Length || _batches[index].Done)
        {
            _log.Debug("coordinator ignored an acceptance for step {0} of epoch {1}", accepted.Step, accepted.Epoch + 1);
            return;
        }
        var batch = _batches[index];
        batch.Done = true;
        _batchesDone++;
        Count(batch.Rows, accepted);
        _lossSum += accepted.Loss;
        worker?.Record(accepted, batch.SentAt);
        if (batch.SentTo is { } computing)
        {
            computing.Busy = false;
        }
        ReportProgress(_batchesDone);
        if (_batchesDone == _batches.Length)
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

    private void Count(int[] rows, GradientAccepted accepted)
    {
        foreach (var row in rows)
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
        var correct = Math.Clamp(accepted.Correct, 0, rows.Length); // only shown, never trusted further
        _epochCorrect += correct;
        _totalCorrect += correct;
        _totalLoss += accepted.Loss;
        _totalSamples += rows.Length;
    }

    /// <summary>
    /// Called once per finished step: tells the listener where training stands when the step is a multiple of
    /// <see cref="CoordinatorSettings.ProgressEvery"/> or <see cref="CoordinatorSettings.ProgressInterval"/> has passed.
    /// Other steps cost two comparisons.
    /// </summary>
    private void ReportProgress(int stepInEpoch)
    {
        if (_listener is null || (_settings.ProgressEvery <= 0 && _settings.ProgressInterval <= TimeSpan.Zero))
        {
            return;
        }
        var step = (long)_epoch * _settings.StepsPerEpoch + stepInEpoch;
        var now = Stopwatch.GetTimestamp();
        var byCount = _settings.ProgressEvery > 0 && step % _settings.ProgressEvery == 0;
        var byTime = _settings.ProgressInterval > TimeSpan.Zero && Stopwatch.GetElapsedTime(_progressSent, now) >= _settings.ProgressInterval;
        if (!byCount && !byTime)
        {
            return;
        }
        _progressSent = now;
        var workers = new List<WorkerProgress>(_workers.Count);
        foreach (var worker in _workers.Values)
        {
            workers.Add(worker.Progress(now));
        }
        workers.Sort((a, b) => a.WorkerId.CompareTo(b.WorkerId));
        _listener.Tell(new TrainingProgress(_epoch + 1, stepInEpoch, _settings.StepsPerEpoch, step, _samplesSeen, _lossSum, _epochCorrect,
            Stopwatch.GetElapsedTime(_epochStarted, now).TotalSeconds, _totalSamples, _totalLoss, _totalCorrect, workers), Self);
    }

    private void OnWatchdog()
    {
        var timeout = _settings.StepTimeout;
        foreach (var worker in Live.Where(w => !w.ShardReady && w.Assignment > 0 && Stopwatch.GetElapsedTime(w.AssignedAt) > timeout).ToList())
        {
            _log.Warning("worker {0} has not confirmed its shard {1} after {2:0.###} s; sent again", worker.Id, string.Join(" ", worker.Ranges), timeout.TotalSeconds);
            ResendShard(worker);
        }
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
            // Only the worker holding a part's rows can compute it: a late part goes to it again (a lost message or
            // lost weights are recovered that way), and a dead one's part has gone to the heir of its rows.
            foreach (var part in _parts.Where(p => p.Sent && !p.Accepted && Stopwatch.GetElapsedTime(p.SentAt) > timeout).ToList())
            {
                _log.Warning("step {0} part {1}: worker {2} is late (no gradient after {3:0.###} s); re-sent to it", _version, part.Index, part.Worker.Id, timeout.TotalSeconds);
                part.Attempt++;
                _redriven++;
                SendPart(part);
            }
            if (_parts.All(p => p.Accepted) && Stopwatch.GetElapsedTime(_stepStarted) > timeout)
            {
                _log.Warning("step {0}: every part is in but the parameter server has not confirmed it; asking for its version", _version);
                _stepStarted = Stopwatch.GetTimestamp();
                _parameterServer.Tell(new PullParameters(-1), Self);
            }
            return;
        }
        foreach (var batch in _batches.Where(b => !b.Done && b.SentTo is not null && Stopwatch.GetElapsedTime(b.SentAt) > timeout))
        {
            var worker = batch.SentTo!;
            _log.Warning("batch {0} of epoch {1}: worker {2} is late (no gradient after {3:0.###} s); re-sent to it", batch.Index, _epoch + 1, worker.Id, timeout.TotalSeconds);
            batch.Attempt++;
            _redriven++;
            Assign(batch, worker);
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

    /// <summary>A sync step's rows held by one worker. The step is also the weights version it is computed with.</summary>
    private sealed class Part(long step, int batchIndex, int stepSamples, int index, int[] rows, WorkerState worker)
    {
        public long Step { get; } = step;
        public int BatchIndex { get; } = batchIndex;
        public int StepSamples { get; } = stepSamples;
        public int Index { get; } = index;
        public int[] Rows { get; } = rows;
        public WorkerState Worker { get; set; } = worker;
        public int Attempt { get; set; }
        public bool Sent { get; set; }
        public long SentAt { get; set; }
        public bool Accepted { get; set; }
        public double Loss { get; set; }
    }

    /// <summary>An async batch: rows of one worker's shard. <see cref="SentTo"/> is the worker computing it, if any.</summary>
    private sealed class AsyncBatch(int index, int[] rows)
    {
        public int Index { get; } = index;
        public int[] Rows { get; } = rows;
        public WorkerState? SentTo { get; set; }
        public int Attempt { get; set; }
        public long SentAt { get; set; }
        public bool Done { get; set; }
    }

    private sealed class WorkerState(int id, IActorRef actor)
    {
        private int _parts;
        private int _samples;
        private double _computeMs;
        private double _stepMs;
        private long _jobParts;
        private int _recentParts;
        private double _recentStepMs;
        private double _recentMean;
        private long _lastSeen = Stopwatch.GetTimestamp(); // registration counts as seen

        public int Id { get; } = id;
        public IActorRef Ref { get; } = actor;
        public bool Alive { get; set; } = true;
        public bool Busy { get; set; }

        /// <summary>The rows this worker holds (or, once dead, held until a survivor takes them).</summary>
        public List<RowRange> Ranges { get; set; } = [];
        public int Rows => Ranges.Sum(r => r.Count);
        public long Assignment { get; set; }
        public long AssignedAt { get; set; }
        public bool ShardReady { get; set; }

        /// <summary>Scratch of CutParts: this worker's rows counted, then placed, in the batch being cut; 0 between cuts.</summary>
        public int CutRows { get; set; }

        /// <summary>Async: this worker's batches not yet handed out.</summary>
        public Queue<AsyncBatch> Queue { get; } = new();

        public void ResetEpoch() => (_parts, _samples, _computeMs, _stepMs) = (0, 0, 0, 0);

        public void Record(GradientAccepted accepted, long sentAt)
        {
            _parts++;
            _samples += accepted.SampleCount;
            _computeMs += accepted.ComputeMicros / 1000.0;
            var stepMs = Stopwatch.GetElapsedTime(sentAt).TotalMilliseconds;
            _stepMs += stepMs;
            _jobParts++;
            _recentParts++;
            _recentStepMs += stepMs;
            _lastSeen = Stopwatch.GetTimestamp();
        }

        /// <summary>Step time is the mean since the previous progress event (or the last known one), so the table shows the present.</summary>
        public WorkerProgress Progress(long now)
        {
            if (_recentParts > 0)
            {
                _recentMean = _recentStepMs / _recentParts;
                (_recentParts, _recentStepMs) = (0, 0);
            }
            return new(Id, _jobParts, _recentMean, DateTimeOffset.UtcNow - Stopwatch.GetElapsedTime(_lastSeen, now), Alive);
        }

        public WorkerEpochStats Stats() =>
            new(Id, _parts, _samples, _parts > 0 ? _computeMs / _parts : 0, _parts > 0 ? _stepMs / _parts : 0, Alive);
    }
}
