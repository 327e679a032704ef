using System.Diagnostics;
using Akka.Actor;
using Akka.Event;
using DistTrainer.Actors.Cluster;
using DistTrainer.Actors.Messages;

namespace DistTrainer.Actors.Transfer;

/// <summary>
/// Sends chunked tensors to other nodes with flow control: per remote node at most <see cref="Window"/> chunks are in
/// flight. After every <see cref="ProbeEvery"/> chunks the outbox sends a <see cref="FlowProbe"/> to that node's
/// <see cref="FlowResponder"/>; Akka.Remote carries everything between two nodes over one ordered TCP connection, so its
/// <see cref="FlowAck"/> means the chunks before the probe have left the connection. A multi-MB model therefore never
/// queues more than a window ahead of the cluster heartbeats sharing that connection. The header message that names
/// the transfer goes out right after its last chunk, through the same outbox, so the receiver still gets every chunk
/// before the header. A node that stops answering is given up on after <see cref="StallTimeout"/> (logged); the queue
/// then drains without pacing.
/// With the bulk channel, the first acknowledgement from a node names its bulk port; from then on the outbox hands each
/// transfer to that node's <see cref="BulkWriter"/> whole, and publishes the writer in the node's
/// <see cref="BulkRoute"/> so that senders hand their transfers to it themselves (one thread hop fewer per transfer)
/// whenever none of theirs is still waiting here.
/// </summary>
public sealed class TransferOutbox : ReceiveActor, IWithTimers
{
    public const string Name = "disttrainer-outbox";
    public const int Window = 64;       // chunks in flight per remote node (~4 MB at the default 64000-byte chunk)
    public const int ProbeEvery = 16;
    public static readonly TimeSpan StallTimeout = TimeSpan.FromSeconds(5);

    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly Dictionary<Address, Lane> _lanes = [];
    private readonly BulkChannel? _bulk;
    private long _nextSequence;

    public TransferOutbox(BulkChannel? bulk, BulkRoutes routes)
    {
        _bulk = bulk;
        Receive<Enqueue>(m =>
        {
            try
            {
                var lane = LaneOf(m.Target.Path.Address);
                if (lane.Bulk is { Healthy: true } writer && lane.Queue.Count == 0)
                {
                    writer.Post(m.Target, m.Tensor, m.Header, m.Sender);
                    return;
                }
                foreach (var chunk in m.Tensor.Chunks) // copies of their own: Akka.Remote serializes them some time later
                {
                    lane.Queue.Enqueue((m.Target, chunk, m.Sender, true));
                }
                lane.Queue.Enqueue((m.Target, m.Header, m.Sender, false));
                Pump(lane);
            }
            finally
            {
                m.Tensor.Unhold();
                Interlocked.Decrement(ref m.Route.Waiting);
            }
        });
        Receive<FlowAck>(m =>
        {
            if (!_lanes.TryGetValue(Sender.Path.Address, out var lane))
            {
                return;
            }
            if (_bulk is not null && lane.Bulk is null && m.BulkPort > 0 && Sender.Path.Address.Host is { } host)
            {
                lane.Bulk = _bulk.Connect(host, m.BulkPort);
                routes.Of(Sender.Path.Address).Writer = lane.Bulk;
                _log.Info("chunked tensors to {0} go over the bulk channel (port {1})", Sender.Path.Address, m.BulkPort);
            }
            while (lane.Probes.TryPeek(out var probe) && probe.Sequence <= m.Sequence)
            {
                lane.Probes.Dequeue();
                lane.InFlight -= probe.Chunks;
            }
            lane.LastProgress = Stopwatch.GetTimestamp();
            Pump(lane);
        });
        Receive<StallCheck>(_ =>
        {
            foreach (var (address, lane) in _lanes.Where(l => l.Value.InFlight > 0).ToList())
            {
                if (Stopwatch.GetElapsedTime(lane.LastProgress) < StallTimeout)
                {
                    continue;
                }
                _log.Warning("no flow acknowledgement from {0} for {1:0} s; releasing {2} chunks in flight ({3} messages queued)",
                    address, StallTimeout.TotalSeconds, lane.InFlight, lane.Queue.Count);
                lane.Probes.Clear();
                lane.InFlight = 0;
                lane.LastProgress = Stopwatch.GetTimestamp();
                Pump(lane);
            }
            foreach (var idle in _lanes.Where(l => l.Value.InFlight == 0 && l.Value.Queue.Count == 0 && l.Value.Bulk is null).Select(l => l.Key).ToList())
            {
                _lanes.Remove(idle);
            }
        });
    }

    public ITimerScheduler Timers { get; set; } = null!;

    protected override void PreStart() => Timers.StartPeriodicTimer("stall", StallCheck.Instance, TimeSpan.FromSeconds(1));

    private Lane LaneOf(Address address)
    {
        if (!_lanes.TryGetValue(address, out var lane))
        {
            _lanes[address] = lane = new Lane(Context.ActorSelection(new RootActorPath(address) / "system" / FlowResponder.Name));
            if (_bulk is not null)
            {
                var sequence = ++_nextSequence; // learn the node's bulk port before the first transfer completes
                lane.Probes.Enqueue((sequence, 0));
                lane.Responder.Tell(new FlowProbe(sequence), Self);
            }
        }
        return lane;
    }

    private void Pump(Lane lane)
    {
        while (lane.Queue.TryPeek(out var next))
        {
            if (next.IsChunk && lane.InFlight >= Window)
            {
                Probe(lane);
                return;
            }
            lane.Queue.Dequeue();
            next.Target.Tell(next.Message, next.Sender);
            if (next.IsChunk)
            {
                if (lane.InFlight == 0)
                {
                    lane.LastProgress = Stopwatch.GetTimestamp();
                }
                lane.InFlight++;
                lane.Unprobed++;
                if (lane.Unprobed >= ProbeEvery)
                {
                    Probe(lane);
                }
            }
        }
        Probe(lane);
    }

    private void Probe(Lane lane)
    {
        if (lane.Unprobed == 0)
        {
            return;
        }
        var sequence = ++_nextSequence;
        lane.Probes.Enqueue((sequence, lane.Unprobed));
        lane.Unprobed = 0;
        lane.Responder.Tell(new FlowProbe(sequence), Self);
    }

    /// <summary>
    /// Send the chunks of <see cref="Tensor"/> then <see cref="Header"/> to <see cref="Target"/> as if from
    /// <see cref="Sender"/>. The tensor comes held for the outbox, which lets go of it once handled.
    /// </summary>
    internal sealed record Enqueue(IActorRef Target, OutgoingTensor Tensor, object Header, IActorRef Sender, BulkRoute Route) : INoSerializationVerificationNeeded;

    private sealed class StallCheck : INoSerializationVerificationNeeded
    {
        public static readonly StallCheck Instance = new();

        private StallCheck()
        {
        }
    }

    private sealed class Lane(ActorSelection responder)
    {
        public ActorSelection Responder { get; } = responder;
        public Queue<(IActorRef Target, object Message, IActorRef Sender, bool IsChunk)> Queue { get; } = new();
        public Queue<(long Sequence, int Chunks)> Probes { get; } = new();
        public int InFlight { get; set; }
        public int Unprobed { get; set; }
        public long LastProgress { get; set; } = Stopwatch.GetTimestamp();
        public BulkWriter? Bulk { get; set; }
    }
}

/// <summary>Answers <see cref="FlowProbe"/>s from other nodes' outboxes; one per ActorSystem at /system/disttrainer-flow.</summary>
public sealed class FlowResponder : ReceiveActor
{
    public const string Name = "disttrainer-flow";

    public FlowResponder(int bulkPort) => Receive<FlowProbe>(p => Sender.Tell(new FlowAck(p.Sequence, bulkPort), Self));
}

/// <summary>
/// Starts the node's <see cref="TransferOutbox"/> and <see cref="FlowResponder"/>. <see cref="Cluster.ClusterNode"/>
/// loads it at start-up, so every node answers probes before anyone sends it a chunk.
/// </summary>
public sealed class TransferFlow : IExtension
{
    public TransferFlow(ExtendedActorSystem system)
    {
        ArgumentNullException.ThrowIfNull(system);
        var config = system.Settings.Config;
        var bulk = config.GetBoolean("disttrainer.bulk-channel", false) && config.GetString("akka.actor.provider", "") is not ("" or "local")
            ? new BulkChannel(system, config.GetString("akka.remote.dot-netty.tcp.hostname", "127.0.0.1"))
            : null;
        var bulkPort = bulk?.Port ?? 0;
        var routes = Routes;
        Outbox = system.SystemActorOf(Props.Create(() => new TransferOutbox(bulk, routes)).WithDispatcher(DistTrainerSettings.WorkerDispatcher), TransferOutbox.Name);
        system.SystemActorOf(Props.Create(() => new FlowResponder(bulkPort)), FlowResponder.Name);
    }

    public IActorRef Outbox { get; }

    internal BulkRoutes Routes { get; } = new();

    /// <summary>
    /// Sends a chunked tensor to another node: straight to the node's bulk writer when there is one and none of the
    /// transfers to that node still waits in the outbox (so no transfer overtakes an earlier one), else via the outbox.
    /// </summary>
    internal void Send(IActorRef target, OutgoingTensor tensor, object header, IActorRef sender)
    {
        var route = Routes.Of(target.Path.Address);
        if (route.Writer is { Healthy: true } writer && Volatile.Read(ref route.Waiting) == 0 && writer.TryPost(target, tensor, header, sender))
        {
            return;
        }
        Interlocked.Increment(ref route.Waiting);
        tensor.Hold(); // the sender may release it before the outbox has read it
        Outbox.Tell(new TransferOutbox.Enqueue(target, tensor, header, sender, route));
    }

    public static TransferFlow Get(ActorSystem system) => system.WithExtension<TransferFlow, TransferFlowProvider>();
}

/// <summary>Per remote node: its bulk writer once known, and how many transfers to it wait in the outbox.</summary>
public sealed class BulkRoute
{
    internal volatile BulkWriter? Writer;
    internal int Waiting;
}

/// <summary>The <see cref="BulkRoute"/> of each remote node, shared by the outbox and the senders of a node.</summary>
public sealed class BulkRoutes
{
    private readonly System.Collections.Concurrent.ConcurrentDictionary<Address, BulkRoute> _routes = new();

    internal BulkRoute Of(Address address) => _routes.GetOrAdd(address, _ => new BulkRoute());
}

public sealed class TransferFlowProvider : ExtensionIdProvider<TransferFlow>
{
    public override TransferFlow CreateExtension(ExtendedActorSystem system) => new(system);
}

public static class OutgoingTensorTransfer
{
    /// <summary>
    /// Sends the tensor's chunks (if any) and then <paramref name="header"/> to <paramref name="target"/>. A chunked
    /// tensor for another node goes through the node's flow-controlled <see cref="TransferOutbox"/> or bulk writer;
    /// everything else is sent at once. Call <see cref="OutgoingTensor.Release"/> after the last send.
    /// </summary>
    public static void SendTo(this OutgoingTensor tensor, ActorSystem system, IActorRef target, object header, IActorRef sender)
    {
        ArgumentNullException.ThrowIfNull(tensor);
        ArgumentNullException.ThrowIfNull(system);
        ArgumentNullException.ThrowIfNull(target);
        if (tensor.ChunkCount == 0 || LocalTensor.IsLocal(system, target))
        {
            tensor.SendChunks(target, sender);
            target.Tell(header, sender);
            return;
        }
        TransferFlow.Get(system).Send(target, tensor, header, sender);
    }
}
