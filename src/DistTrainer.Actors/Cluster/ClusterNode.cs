using System.Globalization;
using Akka.Actor;
using Akka.Cluster.Tools.Singleton;
using Akka.Configuration;
using DistTrainer.Numerics.Data;
using DistTrainer.Numerics.Models;

namespace DistTrainer.Actors.Cluster;

/// <summary>What one node of a cluster job is: its roles, where it listens, whom it joins, and its part of the job.</summary>
public sealed record ClusterNodeOptions(IReadOnlyList<string> Roles)
{
    /// <summary>The ActorSystem (cluster) name; only nodes of the same name form a cluster.</summary>
    public string SystemName { get; init; } = ClusterNode.DefaultSystemName;

    /// <summary>Overrides <c>akka.remote.dot-netty.tcp.hostname</c> (the address to bind).</summary>
    public string? Host { get; init; }

    /// <summary>Overrides <c>akka.remote.dot-netty.tcp.public-hostname</c> (the address other nodes use, e.g. a pod's DNS name).</summary>
    public string? PublicHost { get; init; }

    /// <summary>Overrides <c>akka.remote.dot-netty.tcp.port</c>; 0 picks a free port.</summary>
    public int? Port { get; init; }

    /// <summary>Overrides <c>akka.cluster.seed-nodes</c>. With no seed nodes at all the node joins itself (a new cluster).</summary>
    public IReadOnlyList<string> SeedNodes { get; init; } = [];

    /// <summary>The deployment file (cluster.hocon), below the command-line overrides and above the built-in defaults.</summary>
    public Config? Config { get; init; }

    /// <summary>Overrides <c>akka.loglevel</c> (logs go to standard error).</summary>
    public string? LogLevel { get; init; }

    /// <summary>The job a coordinator node runs (required with the coordinator role).</summary>
    public ClusterJob? Job { get; init; }

    /// <summary>The job id a worker node asks for.</summary>
    public string JobId { get; init; } = ClusterNode.DefaultJobId;

    /// <summary>
    /// Reads a worker node's training split (required with the worker role): once before the node joins, to describe
    /// it, and again for each shard the coordinator assigns, of which the node keeps only the shard's rows.
    /// </summary>
    public Func<Dataset>? WorkerData { get; init; }

    /// <summary>Compute threads of a worker node's gradient kernels.</summary>
    public int WorkerThreads { get; init; } = 1;

    /// <summary>The model kind a worker node's data was prepared for; the coordinator refuses a node whose kind differs from the job's.</summary>
    public ModelKind WorkerModel { get; init; } = ModelKind.Mlp;

    /// <summary>Fault injection: a worker node holds back each gradient push this long (a straggler node).</summary>
    public TimeSpan WorkerPushDelay { get; init; } = TimeSpan.Zero;
}

/// <summary>
/// One process's ActorSystem in a DistTrainer cluster. By role it runs the coordinator singleton
/// (<see cref="ClusterSingletonManager"/> on role "coordinator" hosting <see cref="CoordinatorHost"/>), the
/// <see cref="ParameterServerHost"/>, and the <see cref="WorkerHost"/>. The same class serves the CLI's
/// <c>disttrainer node</c> and the in-process multi-node specs.
/// </summary>
public sealed class ClusterNode
{
    public const string DefaultSystemName = "disttrainer";
    public const string DefaultJobId = "default";
    public const string CoordinatorRole = "coordinator";
    public const string ParameterServerRole = "parameter-server";
    public const string WorkerRole = "worker";
    public const string CoordinatorManagerName = "coordinator";
    public const string CoordinatorSingletonName = "job";

    public static IReadOnlyList<string> KnownRoles { get; } = [CoordinatorRole, ParameterServerRole, WorkerRole];

    /// <summary>Built-in cluster defaults, below cluster.hocon: a cluster provider on 127.0.0.1, logs on stderr.</summary>
    public const string DefaultHocon = """
        akka {
          loglevel = INFO
          stdout-loglevel = OFF
          loggers = ["DistTrainer.Actors.Simulation.StderrLogger, DistTrainer.Actors"]
          log-dead-letters = off
          log-dead-letters-during-shutdown = off
          actor.provider = cluster
          remote.dot-netty.tcp { hostname = "127.0.0.1", port = 0 }
          cluster {
            seed-nodes = []
            shutdown-after-unsuccessful-join-seed-nodes = 120s
            split-brain-resolver.active-strategy = keep-majority
            log-info-verbose = off
          }
        }
        """;

    private ClusterNode(ActorSystem system, NodeOutcome outcome, Task<ClusterJobOutcome>? jobOutcome)
    {
        System = system;
        Outcome = outcome;
        JobOutcome = jobOutcome;
    }

    public ActorSystem System { get; }

    public Akka.Cluster.Cluster Cluster => Akka.Cluster.Cluster.Get(System);

    /// <summary>This node's address as other nodes see it (the real port when started on port 0).</summary>
    public Address Address => Cluster.SelfAddress;

    public NodeOutcome Outcome { get; }

    /// <summary>The job's end on a coordinator node; null on other nodes.</summary>
    public Task<ClusterJobOutcome>? JobOutcome { get; }

    public Task WhenTerminated => System.WhenTerminated;

    /// <summary>The configuration a node runs with: command-line overrides, then <paramref name="options"/>.Config, then the defaults.</summary>
    public static Config BuildConfig(ClusterNodeOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var overrides = new List<string>
        {
            $"akka.cluster.roles = [{string.Join(", ", options.Roles.Select(Quote))}]",
        };
        if (options.Host is not null)
        {
            overrides.Add($"akka.remote.dot-netty.tcp.hostname = {Quote(options.Host)}");
        }
        if (options.PublicHost is not null)
        {
            overrides.Add($"akka.remote.dot-netty.tcp.public-hostname = {Quote(options.PublicHost)}");
        }
        if (options.Port is { } port)
        {
            overrides.Add($"akka.remote.dot-netty.tcp.port = {port}");
        }
        if (options.SeedNodes.Count > 0)
        {
            overrides.Add($"akka.cluster.seed-nodes = [{string.Join(", ", options.SeedNodes.Select(Quote))}]");
        }
        if (options.LogLevel is not null)
        {
            overrides.Add($"akka.loglevel = {Quote(options.LogLevel)}");
        }
        var config = ConfigurationFactory.ParseString(string.Join(Environment.NewLine, overrides));
        if (options.Config is not null)
        {
            config = config.WithFallback(options.Config);
        }
        return config.WithFallback(ConfigurationFactory.ParseString(DefaultHocon)).WithFallback(DistTrainerConfig.Default);
    }

    /// <summary>
    /// Checks the options, creates the ActorSystem, starts the role actors and joins the cluster (the seed nodes, or
    /// itself when there are none). Throws <see cref="ArgumentException"/> for a bad role, a missing job or data, or
    /// a seed node of another cluster.
    /// </summary>
    public static ClusterNode Start(ClusterNodeOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        if (options.Roles.Count == 0)
        {
            throw new ArgumentException($"a node needs at least one role ({string.Join(", ", KnownRoles)})");
        }
        foreach (var role in options.Roles)
        {
            if (!KnownRoles.Contains(role))
            {
                throw new ArgumentException($"unknown role \"{role}\"; expected {string.Join(", ", KnownRoles)}");
            }
        }
        var roles = options.Roles.ToHashSet(StringComparer.Ordinal);
        if (roles.Contains(CoordinatorRole) && options.Job is null)
        {
            throw new ArgumentException("a coordinator node needs a job");
        }
        if (roles.Contains(WorkerRole) && options.WorkerData is null)
        {
            throw new ArgumentException("a worker node needs its training data");
        }
        var workerData = roles.Contains(WorkerRole) ? new ReloadingTrainingData(options.WorkerData!) : null;
        var config = BuildConfig(options);
        var seeds = config.GetStringList("akka.cluster.seed-nodes", []).Select(ParseSeed).ToList();
        foreach (var seed in seeds.Where(s => !string.Equals(s.System, options.SystemName, StringComparison.Ordinal)))
        {
            throw new ArgumentException($"refusing to join: seed node {seed} belongs to cluster \"{seed.System}\", this node is in cluster \"{options.SystemName}\"");
        }

        var system = ActorSystem.Create(options.SystemName, config);
        var outcome = new NodeOutcome();
        Task<ClusterJobOutcome>? jobOutcome = null;
        try
        {
            Transfer.TransferFlow.Get(system); // the flow responder must answer other nodes' probes from the start
            if (roles.Contains(ParameterServerRole))
            {
                system.ActorOf(ParameterServerHost.Props(outcome), CoordinatorHost.ParameterServerHostName);
            }
            if (roles.Contains(CoordinatorRole))
            {
                var done = new TaskCompletionSource<ClusterJobOutcome>(TaskCreationOptions.RunContinuationsAsynchronously);
                jobOutcome = done.Task;
                var settings = ClusterSingletonManagerSettings.Create(system).WithRole(CoordinatorRole).WithSingletonName(CoordinatorSingletonName);
                system.ActorOf(ClusterSingletonManager.Props(CoordinatorHost.Props(options.Job!, done), PoisonPill.Instance, settings), CoordinatorManagerName);
            }
            if (roles.Contains(WorkerRole))
            {
                system.ActorOf(WorkerHost.Props(options.JobId, workerData!, options.WorkerThreads, outcome, options.WorkerModel, options.WorkerPushDelay), CoordinatorHost.WorkerHostName);
            }
            if (!roles.Contains(CoordinatorRole))
            {
                system.ActorOf(CoordinatorWatch.Props(outcome), "coordinator-watch");
            }
            var cluster = Akka.Cluster.Cluster.Get(system);
            if (seeds.Count == 0)
            {
                cluster.Join(cluster.SelfAddress);
            }
        }
        catch
        {
            system.Terminate().Wait(TimeSpan.FromSeconds(10));
            throw;
        }
        return new ClusterNode(system, outcome, jobOutcome);
    }

    /// <summary>Leaves the cluster gracefully and stops the ActorSystem (CoordinatedShutdown); returns once it is down.</summary>
    public async Task LeaveAsync(string? interruptedBecause = null)
    {
        if (interruptedBecause is not null)
        {
            Outcome.Interrupted(interruptedBecause);
        }
        await CoordinatedShutdown.Get(System).Run(CoordinatedShutdown.ClusterLeavingReason.Instance).ConfigureAwait(false);
        await System.WhenTerminated.ConfigureAwait(false);
    }

    /// <summary>Why the ActorSystem stopped (e.g. it left the cluster, or was downed); null while it runs.</summary>
    public CoordinatedShutdown.Reason? ShutdownReason => CoordinatedShutdown.Get(System).ShutdownReason;

    /// <summary>Why the node stopped when it never joined: no seed node answered within the configured time.</summary>
    public string? JoinFailure => ShutdownReason is CoordinatedShutdown.ClusterJoinUnsuccessfulReason
        ? string.Create(CultureInfo.InvariantCulture, $"could not join the cluster: no seed node of [{string.Join(", ", Cluster.Settings.SeedNodes)}] answered within {Cluster.Settings.ShutdownAfterUnsuccessfulJoinSeedNodes?.TotalSeconds:0.#} s")
        : null;

    private static Address ParseSeed(string seed)
    {
        try
        {
            return Address.Parse(seed);
        }
        catch (Exception e) when (e is UriFormatException or ArgumentException or FormatException)
        {
            throw new ArgumentException($"seed node \"{seed}\" is not an address like akka.tcp://{DefaultSystemName}@127.0.0.1:4053", e);
        }
    }

    private static string Quote(string value) => "\"" + value.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("\"", "\\\"", StringComparison.Ordinal) + "\"";
}
