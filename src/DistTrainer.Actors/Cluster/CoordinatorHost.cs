using System.Diagnostics;
using Akka.Actor;
using Akka.Cluster;
using Akka.Event;
using DistTrainer.Actors.Coordinator;
using DistTrainer.Actors.Messages;
using DistTrainer.Actors.Simulation;

namespace DistTrainer.Actors.Cluster;

/// <summary>
/// The job's home on the cluster: a singleton on the "coordinator" role (see <see cref="ClusterNode"/>).
/// <para>
/// It asks a "parameter-server" node to run the job's parameter server, then starts the <see cref="CoordinatorActor"/>
/// as its child and offers the job to worker nodes whose data matches (<see cref="JoinJob"/> → <see cref="JobOffer"/> or
/// <see cref="JobRefused"/>). A worker node that becomes unreachable is downed at once, so the coordinator's DeathWatch
/// fires within the failure detector's pause and the step stops waiting, instead of after the split-brain resolver's
/// stable-after period. When the job is over it tells every node, asks each to leave, and finally leaves itself.
/// </para>
/// Phases: WaitingForParameterServer → Running → Leaving.
/// </summary>
public sealed class CoordinatorHost : ReceiveActor, IWithStash, IWithTimers
{
    public const string ParameterServerHostName = "parameter-server-host";
    public const string WorkerHostName = "worker-host";

    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly ClusterJob _job;
    private readonly TaskCompletionSource<ClusterJobOutcome> _outcome;
    private readonly Akka.Cluster.Cluster _cluster = Akka.Cluster.Cluster.Get(Context.System);
    private readonly Dictionary<IActorRef, int> _workerHosts = [];
    private readonly long _started = Stopwatch.GetTimestamp();
    private IActorRef _parameterServer = ActorRefs.Nobody;
    private IActorRef _coordinator = ActorRefs.Nobody;
    private int _nextWorkerId;
    private long _leaveStarted;

    public CoordinatorHost(ClusterJob job, TaskCompletionSource<ClusterJobOutcome> outcome)
    {
        _job = job;
        _outcome = outcome;
        WaitingForParameterServer();
    }

    public static Props Props(ClusterJob job, TaskCompletionSource<ClusterJobOutcome> outcome) =>
        Akka.Actor.Props.Create(() => new CoordinatorHost(job, outcome));

    public IStash Stash { get; set; } = null!;

    public ITimerScheduler Timers { get; set; } = null!;

    protected override void PreStart()
    {
        _cluster.Subscribe(Self, ClusterEvent.SubscriptionInitialStateMode.InitialStateAsEvents, typeof(ClusterEvent.IMemberEvent), typeof(ClusterEvent.UnreachableMember));
        _log.Info("coordinator for {0}; waiting for a parameter-server node", _job.Spec);
        Timers.StartPeriodicTimer("find-ps", FindParameterServer.Instance, TimeSpan.Zero, TimeSpan.FromSeconds(1));
    }

    protected override void PostStop() => _cluster.Unsubscribe(Self);

    // ---------------------------------------------------------------- phases

    private void WaitingForParameterServer()
    {
        Receive<FindParameterServer>(_ =>
        {
            var candidates = _cluster.State.Members.Where(m => m.Status == MemberStatus.Up && m.HasRole(ClusterNode.ParameterServerRole)).OrderBy(m => m, Member.AgeOrdering).ToList();
            foreach (var member in candidates)
            {
                Context.ActorSelection(new RootActorPath(member.Address) / "user" / ParameterServerHostName).Tell(new StartParameterServer(_job.Spec), Self);
            }
        });
        Receive<ParameterServerStarted>(OnParameterServerStarted);
        Receive<JobRefused>(m => _log.Error("a parameter-server node refused job \"{0}\": {1}", m.JobId, m.Reason));
        Receive<JoinJob>(_ => Stash.Stash());
        CommonMembership();
    }

    private void Running()
    {
        Receive<JoinJob>(OnJoin);
        Receive<EpochReport>(r => _job.Progress?.Report(r));
        Receive<TrainingProgress>(p => _job.StepProgress?.Report(p));
        Receive<CheckpointTaken>(c => _job.OnCheckpoint?.Invoke(c));
        Receive<TrainingFinished>(OnFinished);
        Receive<TrainingFailed>(f => Finish(new ClusterJobOutcome(null, f.Reason)));
        Receive<ParameterServerStarted>(_ => { });
        Receive<Terminated>(t =>
        {
            if (t.ActorRef.Equals(_parameterServer))
            {
                Finish(new ClusterJobOutcome(null, $"the parameter server {t.ActorRef.Path} is gone"));
            }
            else if (t.ActorRef.Equals(_coordinator))
            {
                Finish(new ClusterJobOutcome(null, "the coordinator actor stopped"));
            }
        });
        CommonMembership();
    }

    private void Leaving()
    {
        Receive<LeaveTick>(_ => OnLeaveTick());
        Receive<JoinJob>(m => Sender.Tell(new JobRefused(m.JobId, "the job is over"), Self));
        CommonMembership();
        ReceiveAny(_ => { });
    }

    private void CommonMembership()
    {
        Receive<ClusterEvent.UnreachableMember>(OnUnreachable);
        Receive<ClusterEvent.MemberRemoved>(m => _log.Info("node {0} ({1}) left the cluster", m.Member.Address, string.Join(",", m.Member.Roles)));
        Receive<ClusterEvent.IMemberEvent>(_ => { });
    }

    // ---------------------------------------------------------------- set-up

    private void OnParameterServerStarted(ParameterServerStarted m)
    {
        if (m.JobId != _job.Spec.JobId || m.ParameterCount != _job.Spec.ParameterCount)
        {
            _log.Warning("ignored a parameter server for job \"{0}\" of {1} parameters", m.JobId, m.ParameterCount);
            return;
        }
        Timers.Cancel("find-ps");
        _parameterServer = Sender;
        Context.Watch(_parameterServer);
        var spec = _job.Spec;
        var settings = DistTrainerSettings.Create(Context.System);
        var coordinatorSettings = new CoordinatorSettings(spec.Mode, spec.Epochs, spec.BatchSize, spec.Seed, _job.TrainCount, spec.ParameterCount, _job.MinWorkers)
        {
            StepTimeout = _job.StepTimeout ?? settings.StepTimeout,
            MaxOpenTransfers = settings.MaxOpenTransfers,
            ChunkFloats = settings.ChunkFloats,
            FailWhenNoWorkers = false,
            ProgressEvery = _job.StepProgress is null ? 0 : _job.ProgressEvery,
            ProgressInterval = _job.StepProgress is null ? TimeSpan.Zero : _job.ProgressInterval,
            Checkpoints = _job.OnCheckpoint is not null,
            CheckpointEvery = _job.CheckpointEvery,
            Resume = _job.Resume,
        };
        try
        {
            coordinatorSettings.CheckResume();
        }
        catch (ArgumentException e)
        {
            Finish(new ClusterJobOutcome(null, $"cannot resume: {e.Message}"));
            Stash.UnstashAll(); // waiting worker nodes are told the job is over
            return;
        }
        _coordinator = Context.ActorOf(CoordinatorActor.Props(coordinatorSettings, _parameterServer, _job.Evaluate, Self), "coordinator");
        Context.Watch(_coordinator);
        _log.Info("parameter server {0} is ready; waiting for {1} worker node(s)", _parameterServer.Path, _job.MinWorkers);
        Become(Running);
        Stash.UnstashAll();
    }

    private void OnJoin(JoinJob m)
    {
        if (!string.Equals(m.JobId, _job.Spec.JobId, StringComparison.Ordinal))
        {
            Refuse(m, $"it asks for job \"{m.JobId}\", this cluster runs job \"{_job.Spec.JobId}\"");
            return;
        }
        if (m.Kind != _job.Spec.Kind)
        {
            var kind = _job.Spec.Kind.ToString().ToLowerInvariant();
            Refuse(m, $"it prepared its data for an {m.Kind.ToString().ToLowerInvariant()}, the job trains {_job.Spec.Model}; start the worker with --model {kind}");
            return;
        }
        if (_job.Spec.Data.Mismatch(m.Data) is { } mismatch)
        {
            Refuse(m, mismatch);
            return;
        }
        if (!_workerHosts.TryGetValue(Sender, out var id))
        {
            id = _nextWorkerId++;
            _workerHosts[Sender] = id;
            _log.Info("worker node {0} joins job \"{1}\" as worker {2}", m.Node, m.JobId, id);
        }
        Sender.Tell(new JobOffer(_job.Spec, id, Akka.Serialization.Serialization.SerializedActorPath(_coordinator),
            Akka.Serialization.Serialization.SerializedActorPath(_parameterServer)), Self);
    }

    private void Refuse(JoinJob m, string reason)
    {
        _log.Warning("refused node {0}: {1}", m.Node, reason);
        Sender.Tell(new JobRefused(m.JobId, reason), Self);
    }

    private void OnUnreachable(ClusterEvent.UnreachableMember m)
    {
        var member = m.Member;
        if (member.HasRole(ClusterNode.WorkerRole) && !member.HasRole(ClusterNode.CoordinatorRole) && !member.HasRole(ClusterNode.ParameterServerRole))
        {
            _log.Warning("worker node {0} is unreachable: downing it now so its work goes to the surviving workers", member.Address);
            _cluster.Down(member.Address);
        }
        else
        {
            _log.Warning("node {0} ({1}) is unreachable", member.Address, string.Join(",", member.Roles));
        }
    }

    // ---------------------------------------------------------------- the end

    private void OnFinished(TrainingFinished done)
    {
        var result = new DistributedTrainingResult(done.Epochs, done.Weights, done.Version, done.SamplesSeenPerEpoch, _workerHosts.Count, _job.Spec.Mode,
            Stopwatch.GetElapsedTime(_started).TotalSeconds);
        Finish(new ClusterJobOutcome(result, null));
    }

    private void Finish(ClusterJobOutcome outcome)
    {
        _outcome.TrySetResult(outcome);
        var summary = outcome.Succeeded ? $"finished after {outcome.Result!.Epochs.Count} epochs" : $"failed: {outcome.Failure}";
        _log.Info("job \"{0}\" {1}; asking every node to leave", _job.Spec.JobId, summary);
        var notice = new JobFinished(_job.Spec.JobId, outcome.Succeeded, summary);
        foreach (var host in _workerHosts.Keys)
        {
            host.Tell(notice, Self);
        }
        if (!_parameterServer.IsNobody())
        {
            Context.ActorSelection(_parameterServer.Path.Parent).Tell(notice, Self); // the parameter-server host
        }
        foreach (var member in _cluster.State.Members.Where(m => !m.Address.Equals(_cluster.SelfAddress)))
        {
            _cluster.Leave(member.Address);
        }
        _leaveStarted = Stopwatch.GetTimestamp();
        Timers.StartPeriodicTimer("leave", LeaveTick.Instance, TimeSpan.FromMilliseconds(200));
        Become(Leaving);
    }

    private void OnLeaveTick()
    {
        var others = _cluster.State.Members.Where(m => !m.Address.Equals(_cluster.SelfAddress) && m.Status != MemberStatus.Removed).ToList();
        var waited = Stopwatch.GetElapsedTime(_leaveStarted);
        if (others.Count > 0 && waited < _job.LeaveTimeout)
        {
            return;
        }
        if (others.Count > 0)
        {
            _log.Warning("{0} node(s) did not leave within {1:0} s: {2}", others.Count, _job.LeaveTimeout.TotalSeconds, string.Join(", ", others.Select(o => o.Address)));
        }
        Timers.Cancel("leave");
        _log.Info("coordinator node leaves the cluster");
        _cluster.Leave(_cluster.SelfAddress);
    }

    private sealed class FindParameterServer : INoSerializationVerificationNeeded
    {
        public static readonly FindParameterServer Instance = new();

        private FindParameterServer()
        {
        }
    }

    private sealed class LeaveTick : INoSerializationVerificationNeeded
    {
        public static readonly LeaveTick Instance = new();

        private LeaveTick()
        {
        }
    }
}
