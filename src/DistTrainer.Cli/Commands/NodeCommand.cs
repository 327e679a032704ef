using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using System.Text.Json.Nodes;
using Akka.Actor;
using Akka.Configuration;
using Akka.Configuration.Hocon;
using DistTrainer.Actors.Cluster;
using DistTrainer.Actors.Coordinator;
using DistTrainer.Actors.Messages;
using DistTrainer.Cli.ModelFiles;
using DistTrainer.Cli.Run;
using DistTrainer.Numerics.Models;
using DistTrainer.Numerics.Training;
using ActorEpochReport = DistTrainer.Actors.Coordinator.EpochReport;

namespace DistTrainer.Cli.Commands;

/// <summary>
/// `disttrainer node`: one process of a cluster job. Roles: coordinator (takes the training options, writes the result),
/// parameter-server, worker (reads --data itself and keeps only its shard). Exit codes: 0 the job finished and the node left the cluster;
/// 1 the job failed or the node was downed; 2 usage; 3 the node was refused (another job or other data);
/// 130/143 interrupted by SIGINT/SIGTERM, or 143 stopped by the runtime's exit hook (after a graceful leave).
/// </summary>
public static class NodeCommand
{
    public const int ExitRefused = 3;

    private static readonly string[] _trainOptionNames =
        ["model", "data", "label", "task", "hidden", "activation", "epochs", "batch", "lr", "optimizer", "momentum", "weight-decay", "seed", "threads", "cd-steps", "persistent"];

    public static readonly OptionSpec[] Options =
    [
        new("role", "coordinator | parameter-server | worker, or several comma-separated (e.g. coordinator,parameter-server)"),
        new("host", "address to bind (akka.remote.dot-netty.tcp.hostname)", Default: "127.0.0.1, or cluster.hocon's"),
        new("public-host", "address other nodes use to reach this one (e.g. a pod's DNS name)", Default: "--host"),
        new("port", "TCP port; 0 picks a free one", Default: "cluster.hocon's (4053), or 0 without a config file"),
        new("seed-node", "seed node address akka.tcp://disttrainer@HOST:PORT (repeatable); none: this node starts a new cluster", Repeatable: true, Default: "cluster.hocon's"),
        new("config", "HOCON deployment file (include \"FILE\" reads FILE beside it)", Default: "cluster.hocon if it exists in the current directory"),
        new("cluster-name", "cluster (ActorSystem) name; nodes of other clusters are refused", Default: ClusterNode.DefaultSystemName),
        new("job", "job id; a worker only joins a coordinator running the same job", Default: ClusterNode.DefaultJobId),
        new("min-workers", "coordinator: training starts once this many workers are registered", Default: "1"),
        new("mode", "coordinator: sync | async", Default: "sync"),
        new("result", "coordinator: write the single-line JSON summary (as train --json) to this file"),
        new("out", "coordinator: run folder for metrics.csv, summary.json, model.dtm, curves.png and checkpoint.dtc (as train)", Default: "runs/<yyyyMMdd-HHmmss>"),
        new("checkpoint-every", "coordinator, sync mode: also checkpoint every N optimizer steps (0: at epoch ends only; not with --persistent)", Default: "0"),
        new("resume", "coordinator: continue the run in this folder from its last checkpoint (--epochs may raise the total); sync mode reaches the uninterrupted result, async mode continues from the last epoch end; not with --persistent"),
        new("step-timeout", "coordinator: seconds before a step with no answer is re-driven", Default: "reference.conf's (10)"),
        new("log-every", "coordinator: a progress line and a metrics.csv row every N optimizer steps (0: epochs only)", Default: "50"),
        new("straggler", "worker: delay every gradient push of this node by MS milliseconds (fault injection, as train's --straggler I:MS)", Default: "0"),
        new("log-level", "Akka log level on stderr: OFF, ERROR, WARNING, INFO, DEBUG", Default: "INFO"),
        .. TrainCommand.Options.Where(o => _trainOptionNames.Contains(o.Name)),
        new("json", "coordinator: print the JSON summary as the last line of stdout", TakesValue: false),
        new("quiet", "coordinator: no progress", TakesValue: false),
        new("help", "show this help", TakesValue: false),
    ];

    public static int Run(IReadOnlyList<string> args)
    {
        var options = ParsedOptions.Parse("node", args, Options);
        if (options.Flag("help"))
        {
            Console.WriteLine(ParsedOptions.Help("disttrainer node --role ROLE[,ROLE...] [options]",
                "Runs one node of a cluster training job (system \"disttrainer\", see cluster.hocon).", Options));
            return 0;
        }
        options.NoPositionals();
        var roles = (options.String("role") ?? throw new UsageException("--role is required (coordinator, parameter-server, worker)"))
            .Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries).Distinct().ToList();
        foreach (var role in roles.Where(r => !ClusterNode.KnownRoles.Contains(r)))
        {
            throw new UsageException($"--role: unknown role \"{role}\"; expected {string.Join(", ", ClusterNode.KnownRoles)}");
        }
        if (roles.Count == 0)
        {
            throw new UsageException("--role needs at least one role");
        }
        var isCoordinator = roles.Contains(ClusterNode.CoordinatorRole);
        var isWorker = roles.Contains(ClusterNode.WorkerRole);
        foreach (var name in new[] { "min-workers", "mode", "result", "out", "checkpoint-every", "resume", "step-timeout", "log-every", "json", "quiet", "hidden", "activation", "epochs", "batch", "lr", "optimizer", "momentum", "weight-decay", "seed", "cd-steps", "persistent" })
        {
            if (!isCoordinator && options.Has(name))
            {
                throw new UsageException($"--{name} is a coordinator option; this node's roles are {string.Join(",", roles)}");
            }
        }
        if (!isWorker && options.Has("straggler"))
        {
            throw new UsageException($"--straggler is a worker option; this node's roles are {string.Join(",", roles)}");
        }

        var jobId = options.String("job", ClusterNode.DefaultJobId);
        var json = options.Flag("json");
        var workerTable = new WorkerTable();
        // A node's stdout carries only the --json result: progress (live in a terminal, plain lines otherwise) is on stderr.
        using var progress = IProgressView.Create(options.Flag("quiet"), onStandardError: true, workerTable);
        var logEvery = options.Int("log-every", 50, min: 0);
        var rbmModel = RbmNode.Requested(options);
        var mode = options.Choice("mode", TrainingMode.Sync, new Dictionary<string, TrainingMode> { ["sync"] = TrainingMode.Sync, ["async"] = TrainingMode.Async });
        var checkpointEvery = options.Int("checkpoint-every", 0, min: 0);
        if (checkpointEvery > 0 && mode != TrainingMode.Sync)
        {
            throw new UsageException("--checkpoint-every needs --mode sync; async mode checkpoints at each epoch end");
        }
        RbmRun.CheckPersistentWithWorkers(withWorkers: true, rbmModel && options.Flag("persistent"), options.Has("resume") || checkpointEvery > 0);
        // The coordinator writes a run folder as `train` does: --out, or runs/<timestamp>; --resume continues one.
        var (dir, checkpoint) = isCoordinator ? RunDirectory.CreateOrResume(options) : (null, null);
        using var sweeper = RunDirectory.RemoveIfLeftEmpty(dir);
        var job = checkpoint is not null && !rbmModel ? JobOptions.ForResume(checkpoint, options, dir!) : TrainJob.FromOptions(options);
        var rbm = isCoordinator && rbmModel ? RbmNode.Create(options, checkpoint, dir!) : null;
        var data = isCoordinator && !rbmModel ? job.LoadData() : null;
        var nodeOptions = new ClusterNodeOptions(roles)
        {
            SystemName = options.String("cluster-name", ClusterNode.DefaultSystemName),
            Host = options.String("host"),
            PublicHost = options.String("public-host"),
            Port = options.Has("port") ? options.Int("port", 0, min: 0, max: 65535) : null,
            SeedNodes = options.All("seed-node"),
            Config = LoadConfig(options.String("config")),
            LogLevel = options.String("log-level") ?? "INFO",
            JobId = jobId,
            // A worker reads --data on its own machine (at start and for each shard) and keeps only its shard's rows.
            WorkerData = !isWorker ? null : rbmModel ? () => RbmNode.LoadTrain(options) : () => job.LoadData().Train,
            WorkerThreads = job.Threads,
            WorkerModel = rbmModel ? ModelKind.Rbm : ModelKind.Mlp,
            WorkerPushDelay = TimeSpan.FromMilliseconds(options.Int("straggler", 0, min: 0)),
        };

        PreparedData? prepared = null;
        Mlp? model = null;
        TrainingOptions? training = null;
        DistributedRunFolder? folder = null;
        if (isCoordinator)
        {
            ClusterJob clusterJob;
            ActorProgressFeed feed;
            Func<ActorEpochReport, string> formatEpoch;
            var minWorkers = options.Int("min-workers", 1, min: 1);
            if (rbm is not null)
            {
                folder = new DistributedRunFolder(dir!, rbm.FolderModel(), rbm.Train.Count, rbm.Training, checkpoint);
                clusterJob = rbm.CreateJob(jobId, mode, minWorkers);
                feed = new ActorProgressFeed(progress, workerTable, folder.WriteStep, logEvery, rbm.Train.Count, rbm.Training, rbm.StepWindow(), folder.WallSeconds);
                formatEpoch = rbm.FormatEpoch;
                progress.Line(rbm.Describe(mode));
            }
            else
            {
                prepared = data!;
                var spec = job.CreateSpec(prepared);
                model = new Mlp(spec);
                training = job.CreateTrainingOptions(prepared.Train.Count);
                if (checkpoint is not null)
                {
                    TrainCommand.CheckResumable(checkpoint, prepared, training, dir!);
                    if (!TrainCommand.HasWorkLeft(checkpoint, training))
                    {
                        throw new UsageException($"the run in {dir} has finished its {checkpoint.Epoch} epochs; raise --epochs to train more");
                    }
                }
                folder = new DistributedRunFolder(dir!, job, prepared, model, training, checkpoint);
                var jobSpec = JobSpec.Create(jobId, spec, training.Optimizer, mode, training.Seed, Math.Min(training.BatchSize, prepared.Train.Count), training.Epochs,
                    model.ParameterCount, DataFingerprint.Describe(prepared.Train));
                var evaluateModel = model;
                var test = prepared.Test;
                var scaling = prepared.TargetScaling;
                var epochs = training.Epochs;
                clusterJob = new ClusterJob(jobSpec, prepared.Train.Count, minWorkers, w => Evaluator.Evaluate(evaluateModel, w, test, scaling));
                feed = new ActorProgressFeed(progress, workerTable, folder.WriteStep, logEvery, prepared, training, folder.WallSeconds);
                formatEpoch = r => FormatEpoch(r, epochs);
                progress.Line($"{prepared.Name}: {prepared.Train.Count} train / {prepared.Test.Count} test samples; model {spec} ({model.ParameterCount:N0} parameters); {training.Epochs} epochs, batch {training.BatchSize}, {mode.ToString().ToLowerInvariant()}");
            }
            var runFolder = folder;
            void OnEpoch(ActorEpochReport r)
            {
                runFolder.OnEpoch(r);
                feed.OnEpoch(r.Seconds, formatEpoch(r));
            }
            nodeOptions = nodeOptions with
            {
                Job = clusterJob with
                {
                    // On the coordinator host's actor thread, in order: the run folder needs each epoch before its checkpoint.
                    Progress = new SynchronousProgress<ActorEpochReport>(OnEpoch),
                    StepProgress = new SynchronousProgress<TrainingProgress>(feed.OnStep),
                    ProgressEvery = logEvery,
                    ProgressInterval = SimulationRun.ProgressInterval,
                    StepTimeout = options.Has("step-timeout") ? TimeSpan.FromSeconds(options.Float("step-timeout", 10, min: 0.01f)) : null,
                    // Persistent CD keeps its chains in the workers, which a checkpoint does not hold: no checkpoint.dtc.
                    OnCheckpoint = rbm is { Model.Options.Persistent: true } ? null : folder.OnCheckpoint,
                    CheckpointEvery = checkpointEvery,
                    Resume = folder.Resume,
                },
            };
            progress.Line(checkpoint is not null ? $"resuming {dir} at epoch {checkpoint.Epoch + 1}, step {checkpoint.Step}" : $"run folder {dir}");
        }

        var node = ClusterNode.Start(nodeOptions);
        Console.Error.WriteLine($"node {node.Address} roles {string.Join(",", roles)} started"); // even with --quiet: where the node listens
        var interrupted = 0;
        void OnSignal(PosixSignalContext context)
        {
            context.Cancel = true;
            if (Interlocked.CompareExchange(ref interrupted, context.Signal == PosixSignal.SIGTERM ? 143 : 130, 0) == 0)
            {
                Console.Error.WriteLine($"{context.Signal}: leaving the cluster");
                _ = node.LeaveAsync($"interrupted by {context.Signal}");
            }
        }
        using var sigint = PosixSignalRegistration.Create(PosixSignal.SIGINT, OnSignal);
        using var sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, OnSignal);

        var exit = 1;
        string? jsonLine = null;
        if (isCoordinator)
        {
            var outcome = WaitJob(node);
            if (outcome is { Succeeded: true })
            {
                jsonLine = (rbm is not null ? rbm.Summarize(outcome.Result!, folder!, progress.Line) : Summarize(prepared!, model!, outcome.Result!, folder!)).ToJsonString();
                if (options.String("result") is { } path)
                {
                    File.WriteAllText(path, jsonLine + Environment.NewLine);
                }
                progress.Line(string.Create(CultureInfo.InvariantCulture, $"done in {outcome.Result!.Seconds:F1}s: {FinalMetric(outcome.Result!.Epochs[^1])}"));
                exit = 0;
            }
            else if (outcome is not null)
            {
                Console.Error.WriteLine($"error: the job failed: {outcome.Failure}");
            }
        }
        node.WhenTerminated.Wait();
        folder?.Dispose();
        progress.Dispose();
        if (json && jsonLine is not null)
        {
            Console.Out.WriteLine(jsonLine); // after the system stopped, so it is the last line of stdout
        }
        if (node.ShutdownReason is CoordinatedShutdown.ClrExitReason)
        {
            // The runtime's exit hook stopped the node (it left the cluster on the way): the process is being
            // terminated. Under load that hook can finish before the signal handler has recorded its signal.
            SpinWait.SpinUntil(() => Volatile.Read(ref interrupted) != 0, TimeSpan.FromSeconds(1));
            return Volatile.Read(ref interrupted) is var recorded and not 0 ? recorded : 143;
        }
        if (Volatile.Read(ref interrupted) is var signal and not 0)
        {
            return signal;
        }
        if (node.JoinFailure is { } joinFailure)
        {
            Console.Error.WriteLine($"error: {joinFailure}");
            return 1;
        }
        if (isCoordinator)
        {
            return exit;
        }
        return node.Outcome.Kind switch
        {
            NodeOutcomeKind.JobSucceeded => 0,
            NodeOutcomeKind.Refused => ExitRefused,
            NodeOutcomeKind.Running when node.ShutdownReason is CoordinatedShutdown.ClusterLeavingReason => 0, // asked to leave
            _ => 1,
        };
    }

    /// <summary>The coordinator's outcome, or null when the node stopped first (interrupted, downed).</summary>
    private static ClusterJobOutcome? WaitJob(ClusterNode node)
    {
        var finished = Task.WhenAny(node.JobOutcome!, node.WhenTerminated).GetAwaiter().GetResult();
        return finished == node.JobOutcome ? node.JobOutcome.Result : null;
    }

    /// <summary>
    /// --config PATH, else ./cluster.hocon when present, else none (built-in defaults). <c>include "FILE"</c> reads FILE
    /// relative to the file that includes it, so a small override file can include the repository's cluster.hocon.
    /// </summary>
    internal static Config? LoadConfig(string? path)
    {
        if (path is null)
        {
            if (!File.Exists("cluster.hocon"))
            {
                return null;
            }
            path = "cluster.hocon";
        }
        else if (!File.Exists(path))
        {
            throw new UsageException($"--config: no such file \"{path}\"");
        }
        return new Config(ParseHoconFile(Path.GetFullPath(path), []));
    }

    private static HoconRoot ParseHoconFile(string path, List<string> including)
    {
        if (including.Contains(path))
        {
            throw new UsageException($"{including[^1]}: include cycle through {path}");
        }
        including.Add(path);
        try
        {
            return Parser.Parse(File.ReadAllText(path), include =>
            {
                var target = Path.GetFullPath(Path.Combine(Path.GetDirectoryName(path)!, include));
                if (!File.Exists(target))
                {
                    throw new UsageException($"{path}: include \"{include}\": no such file {target}");
                }
                return ParseHoconFile(target, including);
            });
        }
        catch (Exception e) when (e is not UsageException and not IOException and not UnauthorizedAccessException)
        {
            throw new UsageException($"{path}: not valid HOCON: {e.Message}");
        }
        finally
        {
            including.RemoveAt(including.Count - 1);
        }
    }

    private static string FormatEpoch(ActorEpochReport r, int epochs)
    {
        var workers = string.Join(" ", r.Workers.Select(w => string.Create(CultureInfo.InvariantCulture, $"w{w.WorkerId}:{w.MeanStepMs:F1}ms{(w.Alive ? "" : "(gone)")}")));
        return string.Create(CultureInfo.InvariantCulture,
            $"epoch {r.Epoch}/{epochs}  loss {r.TrainLoss:F4}  {(r.Test is null ? "" : FinalMetric(r))}  {r.SamplesPerSecond:N0} samples/s  samples {r.Samples}  steps {workers}");
    }

    private static string FinalMetric(ActorEpochReport r) => r.Test switch
    {
        { Accuracy: { } accuracy } => string.Create(CultureInfo.InvariantCulture, $"test_acc {accuracy:F4}"),
        { Rmse: { } rmse } => string.Create(CultureInfo.InvariantCulture, $"test_rmse {rmse:F3}"),
        { Rbm: { } rbm } => string.Create(CultureInfo.InvariantCulture,
            $"reconstruction error {(double.IsNaN(rbm.TestReconstructionError) ? rbm.TrainReconstructionError : rbm.TestReconstructionError):F4}"),
        _ => "",
    };

    /// <summary>
    /// The summary and the run folder's end-of-run files (model.dtm, curves.png, summary.json). Epochs trained before a
    /// resume count in <c>epochs</c> and <c>samples_seen_per_epoch</c>.
    /// </summary>
    private static JsonObject Summarize(PreparedData data, Mlp model, Actors.Simulation.DistributedTrainingResult result, DistributedRunFolder folder)
    {
        var run = folder.Finish(data, model, result.Weights);
        var summary = run.Summary!;
        AddClusterKeys(summary, result, folder.Reports.Select(r => r.Samples));
        TrainingRun.WriteSummary(folder.Directory, summary);
        folder.Complete();
        return summary;
    }

    private static void AddClusterKeys(JsonObject summary, Actors.Simulation.DistributedTrainingResult result, IEnumerable<int> samplesSeenPerEpoch)
    {
        summary["workers"] = result.Workers;
        summary["mode"] = result.Mode.ToString().ToLowerInvariant();
        summary["steps"] = result.Steps;
        summary["samples_seen_per_epoch"] = new JsonArray(samplesSeenPerEpoch.Select(n => (JsonNode)n).ToArray());
        summary["redriven_work"] = result.Epochs.Sum(e => e.RedrivenWork);
        summary["duplicate_samples"] = result.Epochs.Sum(e => e.DuplicateSamples);
    }
}
