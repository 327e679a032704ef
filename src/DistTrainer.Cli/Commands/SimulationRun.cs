using System.Text.Json.Nodes;
using DistTrainer.Actors.Coordinator;
using DistTrainer.Actors.Messages;
using DistTrainer.Actors.Simulation;
using DistTrainer.Cli.ModelFiles;
using DistTrainer.Cli.Run;
using DistTrainer.Numerics.Models;
using DistTrainer.Numerics.Training;

namespace DistTrainer.Cli.Commands;

/// <summary>The `--workers`, `--mode`, `--crash-worker` and `--straggler` options; null when training in a plain loop.</summary>
public sealed record SimulationSettings(int Workers, TrainingMode Mode, IReadOnlyList<CrashWorker> Crashes, IReadOnlyList<Straggler> Stragglers)
{
    /// <summary>`train` trains an MLP with 2 workers unless told otherwise; an RBM still defaults to the plain loop.</summary>
    public const int DefaultWorkers = 2;

    public static SimulationSettings? FromOptions(ParsedOptions options, int defaultWorkers = DefaultWorkers)
    {
        var workers = options.Int("workers", defaultWorkers, min: 0, max: 1024);
        if (workers == 0)
        {
            foreach (var name in new[] { "mode", "crash-worker", "straggler" })
            {
                if (options.Has(name))
                {
                    throw new UsageException($"--{name} needs --workers N (N ≥ 1)");
                }
            }
            return null;
        }
        var mode = options.Choice("mode", TrainingMode.Sync, new Dictionary<string, TrainingMode> { ["sync"] = TrainingMode.Sync, ["async"] = TrainingMode.Async });
        CrashWorker[] crashes;
        Straggler[] stragglers;
        try
        {
            crashes = options.All("crash-worker").Select(CrashWorker.Parse).ToArray();
            stragglers = options.All("straggler").Select(Straggler.Parse).ToArray();
        }
        catch (FormatException e)
        {
            throw new UsageException(e.Message);
        }
        // The epoch of a crash is checked once the run's epochs are known (a resumed run takes them from its checkpoint).
        var outside = crashes.Where(c => c.Worker >= workers).Select(c => $"--crash-worker {c}")
            .Concat(stragglers.Where(s => s.Worker >= workers).Select(s => $"--straggler {s}")).FirstOrDefault();
        if (outside is not null)
        {
            throw new UsageException($"{outside}: worker must be 0..{workers - 1} (--workers {workers})");
        }
        return new SimulationSettings(workers, mode, crashes, stragglers);
    }
}

/// <summary>Runs `train --workers N`: the coordinator, parameter server and N workers as actors in this process.</summary>
public static class SimulationRun
{
    /// <summary>How often the live view hears from the coordinator between metrics rows.</summary>
    public static readonly TimeSpan ProgressInterval = TimeSpan.FromMilliseconds(100);

    /// <summary>
    /// Trains an MLP through the actor protocol with the run folder around it: step rows (every
    /// <see cref="RunSettings.LogEvery"/> steps) and epoch rows in metrics.csv, checkpoint.dtc at each epoch end and every
    /// <see cref="RunSettings.CheckpointEvery"/> sync steps, and the end-of-run files; the coordinator's step progress goes
    /// to <paramref name="feed"/>. Continues from <paramref name="folder"/>'s checkpoint when it has one.
    /// </summary>
    public static RunResult Execute(Mlp model, PreparedData data, TrainingOptions training, SimulationSettings simulation, DistributedRunFolder folder,
        RunSettings settings, ActorProgressFeed feed, float[]? initialWeights = null)
    {
        var options = new LocalSimulationOptions(model.Spec, data.Train, data.Test, training, simulation.Workers, simulation.Mode)
        {
            InitialWeights = initialWeights,
            TargetScaling = data.TargetScaling,
            Crashes = simulation.Crashes,
            Stragglers = simulation.Stragglers,
            StepProgress = new SynchronousProgress<TrainingProgress>(feed.OnStep),
            ProgressEvery = settings.LogEvery,
            ProgressInterval = ProgressInterval,
            Resume = folder.Resume,
            CheckpointEvery = settings.CheckpointEvery,
            OnCheckpoint = folder.OnCheckpoint,
        };
        var result = RunLocal(options, r => feed.OnEpoch(folder.OnEpoch(r)), folder.StopToken);
        if (result is null || folder.Stopped)
        {
            folder.FlushCheckpoints();
            var path = Path.Combine(settings.Directory, Checkpoint.FileName);
            return new RunResult(null, null, TrainedModel.FromContent(Checkpoint.Load(path).Model, path), Stopped: true);
        }
        var run = folder.Finish(data, model, result.Weights);
        run.Summary!["workers"] = simulation.Workers;
        run.Summary["mode"] = simulation.Mode.ToString().ToLowerInvariant();
        run.Summary["samples_seen_per_epoch"] = new JsonArray(folder.Reports.Select(r => (JsonNode)r.Samples).ToArray());
        TrainingRun.WriteSummary(settings.Directory, run.Summary);
        folder.Complete();
        return run;
    }

    /// <summary>
    /// Runs the simulation to the end; Ctrl-C cancels it cleanly. <paramref name="onEpoch"/> is called on an actor thread,
    /// in epoch order, which keeps progress lines in order without blocking training.
    /// </summary>
    /// <returns>The result, or null when <paramref name="stop"/> ends the run (a test hook standing for a crash).</returns>
    internal static DistributedTrainingResult? RunLocal(LocalSimulationOptions options, Action<Actors.Coordinator.EpochReport> onEpoch, CancellationToken stop = default)
    {
        using var cancel = CancellationTokenSource.CreateLinkedTokenSource(stop);
        ConsoleCancelEventHandler onCancel = (_, e) =>
        {
            e.Cancel = true;
            cancel.Cancel();
        };
        Console.CancelKeyPress += onCancel;
        try
        {
            return DistributedTraining.RunLocalAsync(options, new SynchronousProgress<Actors.Coordinator.EpochReport>(onEpoch), cancel.Token).GetAwaiter().GetResult();
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested)
        {
            return null;
        }
        catch (OperationCanceledException)
        {
            throw new UsageException("training cancelled");
        }
        finally
        {
            Console.CancelKeyPress -= onCancel;
        }
    }
}

/// <summary>An IProgress that calls back on the reporting thread, unlike <see cref="Progress{T}"/> which posts to the thread pool.</summary>
internal sealed class SynchronousProgress<T>(Action<T> report) : IProgress<T>
{
    public void Report(T value) => report(value);
}
