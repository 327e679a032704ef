using Akka.Actor;
using Akka.Event;
using DistTrainer.Actors.ParameterServer;
using DistTrainer.Numerics.Models;

namespace DistTrainer.Actors.Cluster;

/// <summary>
/// Runs on every "parameter-server" node at <c>/user/parameter-server-host</c>. On <see cref="StartParameterServer"/>
/// it creates the job's <see cref="ParameterServerActor"/> (weights initialised from the job's seed, so every node
/// agrees on them) and answers <see cref="ParameterServerStarted"/> with the server as sender. The same job again gets
/// the same server; another job while one runs is refused.
/// </summary>
public sealed class ParameterServerHost : ReceiveActor
{
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly NodeOutcome _outcome;
    private JobSpec? _job;
    private IActorRef _server = ActorRefs.Nobody;

    public ParameterServerHost(NodeOutcome outcome)
    {
        _outcome = outcome;
        Receive<StartParameterServer>(OnStart);
        Receive<JobFinished>(m =>
        {
            _log.Info("job \"{0}\" {1}", m.JobId, m.Summary);
            _outcome.JobFinished(m.Succeeded);
        });
        Receive<Terminated>(t =>
        {
            if (t.ActorRef.Equals(_server))
            {
                _log.Error("the parameter server of job \"{0}\" stopped", _job?.JobId);
                _server = ActorRefs.Nobody;
                _job = null;
            }
        });
    }

    public static Props Props(NodeOutcome outcome) => Akka.Actor.Props.Create(() => new ParameterServerHost(outcome));

    private void OnStart(StartParameterServer m)
    {
        var spec = m.Job;
        if (_job is not null)
        {
            if (_job.Equals(spec) || SameJob(_job, spec))
            {
                Sender.Tell(new ParameterServerStarted(spec.JobId, spec.ParameterCount), _server);
                return;
            }
            var reason = $"this node already serves {_job}";
            _log.Warning("refused to serve {0}: {1}", spec, reason);
            Sender.Tell(new JobRefused(spec.JobId, reason), Self);
            return;
        }
        var model = ModelFactory.Create(spec.Model);
        if (model.ParameterCount != spec.ParameterCount)
        {
            var reason = $"the model {spec.Model} has {model.ParameterCount} parameters here, the job says {spec.ParameterCount}";
            _log.Warning("refused to serve {0}: {1}", spec, reason);
            Sender.Tell(new JobRefused(spec.JobId, reason), Self);
            return;
        }
        var weights = new float[model.ParameterCount];
        model.Initialize(weights, spec.Seed);
        var settings = DistTrainerSettings.Create(Context.System);
        var psSettings = new ParameterServerSettings(spec.Mode, spec.OptimizerOptions)
        {
            ChunkFloats = settings.ChunkFloats,
            MaxOpenTransfers = settings.MaxOpenTransfers,
        };
        _server = Context.ActorOf(ParameterServerActor.Props(psSettings, weights), "parameter-server");
        Context.Watch(_server);
        _job = spec;
        _log.Info("parameter server started for {0}", spec);
        Sender.Tell(new ParameterServerStarted(spec.JobId, spec.ParameterCount), _server);
    }

    private static bool SameJob(JobSpec a, JobSpec b) =>
        a.JobId == b.JobId && a.Model.Equals(b.Model) && a.ParameterCount == b.ParameterCount && a.Data.Equals(b.Data);
}
