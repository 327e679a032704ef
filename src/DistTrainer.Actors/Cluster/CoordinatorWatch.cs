using Akka.Actor;
using Akka.Cluster;
using Akka.Event;

namespace DistTrainer.Actors.Cluster;

/// <summary>
/// On parameter-server and worker nodes: once the last coordinator node has left the cluster or been downed (it crashed,
/// and the split-brain resolver removed it), nothing will ever drive the job again, so this node leaves too and its
/// process exits with an error instead of waiting forever.
/// </summary>
public sealed class CoordinatorWatch : ReceiveActor
{
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly Akka.Cluster.Cluster _cluster = Akka.Cluster.Cluster.Get(Context.System);

    public CoordinatorWatch(NodeOutcome outcome)
    {
        Receive<ClusterEvent.MemberRemoved>(m =>
        {
            if (!m.Member.HasRole(ClusterNode.CoordinatorRole) || m.Member.Address.Equals(_cluster.SelfAddress)
                || _cluster.State.Members.Any(o => o.HasRole(ClusterNode.CoordinatorRole) && o.Status is MemberStatus.Up or MemberStatus.Joining or MemberStatus.WeaklyUp))
            {
                return;
            }
            if (outcome.Kind == NodeOutcomeKind.Running)
            {
                _log.Error("the coordinator node {0} is gone ({1}) before the job finished; leaving the cluster", m.Member.Address, m.PreviousStatus);
                outcome.Failed($"the coordinator node {m.Member.Address} is gone");
            }
            _cluster.Leave(_cluster.SelfAddress);
        });
        Receive<ClusterEvent.IMemberEvent>(_ => { });
    }

    public static Props Props(NodeOutcome outcome) => Akka.Actor.Props.Create(() => new CoordinatorWatch(outcome));

    protected override void PreStart() =>
        _cluster.Subscribe(Self, ClusterEvent.SubscriptionInitialStateMode.InitialStateAsEvents, typeof(ClusterEvent.IMemberEvent));

    protected override void PostStop() => _cluster.Unsubscribe(Self);
}
