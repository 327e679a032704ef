using Akka.Actor;
using Akka.Cluster.Tools.Singleton;
using Akka.Event;
using DistTrainer.Actors.Worker;
using DistTrainer.Numerics.Models;

namespace DistTrainer.Actors.Cluster;

/// <summary>
/// Runs on every "worker" node at <c>/user/worker-host</c>. It knows the node's training data (described before the node
/// joined; the worker reads its shard's rows when the coordinator assigns them), asks the coordinator singleton (through a <see cref="ClusterSingletonProxy"/>) for a place in the job every
/// few seconds until answered, and on <see cref="JobOffer"/> starts a <see cref="WorkerActor"/> wired to the job's
/// coordinator and parameter server. On <see cref="JobRefused"/> it logs the reason and the node leaves the cluster.
/// </summary>
public sealed class WorkerHost : ReceiveActor, IWithTimers
{
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly string _jobId;
    private readonly ReloadingTrainingData _train;
    private readonly int _threads;
    private readonly NodeOutcome _outcome;
    private readonly ModelKind _kind;
    private readonly TimeSpan _pushDelay;
    private readonly IActorRef _coordinatorProxy;
    private IActorRef _worker = ActorRefs.Nobody;

    public WorkerHost(string jobId, ReloadingTrainingData train, int threads, NodeOutcome outcome, ModelKind kind = ModelKind.Mlp, TimeSpan pushDelay = default)
    {
        _kind = kind;
        _pushDelay = pushDelay;
        _jobId = jobId;
        _train = train;
        _threads = threads;
        _outcome = outcome;
        _coordinatorProxy = Context.ActorOf(ClusterSingletonProxy.Props($"/user/{ClusterNode.CoordinatorManagerName}",
            ClusterSingletonProxySettings.Create(Context.System).WithRole(ClusterNode.CoordinatorRole).WithSingletonName(ClusterNode.CoordinatorSingletonName)),
            "coordinator-proxy");

        Receive<AskToJoin>(_ => _coordinatorProxy.Tell(new JoinJob(_jobId, Akka.Cluster.Cluster.Get(Context.System).SelfAddress.ToString(), _train.Description, _kind), Self));
        Receive<JobOffer>(OnOffer);
        Receive<JobRefused>(m =>
        {
            _log.Error("the coordinator refused this node for job \"{0}\": {1}", m.JobId, m.Reason);
            _outcome.Refused(m.Reason);
            Leave();
        });
        Receive<JobFinished>(m =>
        {
            _log.Info("job \"{0}\" {1}", m.JobId, m.Summary);
            _outcome.JobFinished(m.Succeeded);
        });
        Receive<Terminated>(t =>
        {
            if (t.ActorRef.Equals(_worker) && _outcome.Kind == NodeOutcomeKind.Running)
            {
                _log.Error("the worker actor stopped before the job finished");
                _outcome.Failed("the worker actor stopped before the job finished");
                Leave();
            }
        });
    }

    public static Props Props(string jobId, ReloadingTrainingData train, int threads, NodeOutcome outcome, ModelKind kind = ModelKind.Mlp,
        TimeSpan pushDelay = default) =>
        Akka.Actor.Props.Create(() => new WorkerHost(jobId, train, threads, outcome, kind, pushDelay));

    public ITimerScheduler Timers { get; set; } = null!;

    protected override void PreStart()
    {
        _log.Info("worker node for job \"{0}\" reads {1}; asking the coordinator for work", _jobId, _train.Description);
        Timers.StartPeriodicTimer("join", AskToJoin.Instance, TimeSpan.Zero, TimeSpan.FromSeconds(2));
    }

    private void OnOffer(JobOffer offer)
    {
        Timers.Cancel("join");
        if (!_worker.IsNobody())
        {
            return; // a repeated offer answers a repeated JoinJob
        }
        var spec = offer.Job;
        var mismatch = (spec.Kind != _kind ? $"the job trains {spec.Model}, this node's data was prepared for an {_kind.ToString().ToLowerInvariant()}" : null)
            ?? spec.Data.Mismatch(_train.Description)
            ?? (spec.Inputs != _train.FeatureCount ? $"the job's model takes {spec.Inputs} inputs, this node's data has {_train.FeatureCount} features" : null);
        if (mismatch is { } reason)
        {
            _log.Error("this node cannot take part in {0}: {1}", spec, reason);
            _outcome.Refused(reason);
            Leave();
            return;
        }
        var provider = ((ExtendedActorSystem)Context.System).Provider;
        var coordinator = provider.ResolveActorRef(offer.CoordinatorPath);
        var parameterServer = provider.ResolveActorRef(offer.ParameterServerPath);
        var settings = DistTrainerSettings.Create(Context.System);
        var workerSettings = new WorkerSettings(offer.WorkerId, spec.Model, spec.BatchSize, _threads)
        {
            Rbm = spec.Rbm,
            ChunkFloats = settings.ChunkFloats,
            MaxOpenTransfers = settings.MaxOpenTransfers,
            MessageDelay = _pushDelay,
        };
        _worker = Context.ActorOf(WorkerActor.Props(workerSettings, _train, coordinator, parameterServer), $"worker-{offer.WorkerId}");
        Context.Watch(_worker);
        _log.Info("worker {0} started for {1}", offer.WorkerId, spec);
    }

    private static void Leave() => Akka.Cluster.Cluster.Get(Context.System).Leave(Akka.Cluster.Cluster.Get(Context.System).SelfAddress);

    private sealed class AskToJoin : INoSerializationVerificationNeeded
    {
        public static readonly AskToJoin Instance = new();

        private AskToJoin()
        {
        }
    }
}
