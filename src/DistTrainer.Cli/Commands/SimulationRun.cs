using System.Diagnostics;
using DistTrainer.Actors.Coordinator;
using DistTrainer.Actors.Messages;
using DistTrainer.Actors.Simulation;
using DistTrainer.Cli.Run;
using DistTrainer.Numerics.Models;
using DistTrainer.Numerics.Training;

namespace DistTrainer.Cli.Commands;

/// <summary>What a training run produced, however it ran.</summary>
public sealed record TrainingOutcome(IReadOnlyList<EpochReport> Reports, float[] Weights, int[]? SamplesSeenPerEpoch);

/// <summary>The `--workers`, `--mode`, `--crash-worker` and `--straggler` options; null when training in a plain loop.</summary>
public sealed record SimulationSettings(int Workers, TrainingMode Mode, IReadOnlyList<CrashWorker> Crashes, IReadOnlyList<Straggler> Stragglers)
{
    public static SimulationSettings? FromOptions(ParsedOptions options)
    {
        var workers = options.Int("workers", 0, min: 0, max: 1024);
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
        try
        {
            return new SimulationSettings(workers, mode,
                options.All("crash-worker").Select(CrashWorker.Parse).ToArray(),
                options.All("straggler").Select(Straggler.Parse).ToArray());
        }
        catch (FormatException e)
        {
            throw new UsageException(e.Message);
        }
    }
}

/// <summary>Runs `train --workers N`: the coordinator, parameter server and N workers as actors in this process.</summary>
public static class SimulationRun
{
    /// <summary>How often the live view hears from the coordinator between metrics rows.</summary>
    public static readonly TimeSpan ProgressInterval = TimeSpan.FromMilliseconds(100);

    /// <summary>
    /// Runs the job. The coordinator's step progress goes to <paramref name="feed"/> every <paramref name="logEvery"/>
    /// steps and about ten times a second; each epoch gets its metrics.csv row, except the last, which
    /// <see cref="TrainingRun.Finish"/> writes with the final train evaluation.
    /// </summary>
    public static TrainingOutcome Run(Mlp model, PreparedData data, TrainingOptions training, SimulationSettings simulation, ActorProgressFeed feed,
        MetricsCsv metrics, int logEvery, Func<double> wallSeconds, float[]? initialWeights = null)
    {
        var options = new LocalSimulationOptions(model.Spec, data.Train, data.Test, training, simulation.Workers, simulation.Mode)
        {
            InitialWeights = initialWeights,
            TargetScaling = data.TargetScaling,
            Crashes = simulation.Crashes,
            Stragglers = simulation.Stragglers,
            StepProgress = new SynchronousProgress<TrainingProgress>(feed.OnStep),
            ProgressEvery = logEvery,
            ProgressInterval = ProgressInterval,
        };
        var reports = new List<EpochReport>();
        var stepsPerEpoch = (data.Train.Count + training.BatchSize - 1) / training.BatchSize;
        var result = RunLocal(options, r =>
        {
            var report = new EpochReport(r.Epoch, r.TrainLoss, r.Samples, r.Seconds, null, r.Test!) { Workers = r.Workers };
            reports.Add(report);
            if (r.Epoch < training.Epochs)
            {
                metrics.Epoch((long)r.Epoch * stepsPerEpoch, training.Optimizer.LearningRate, wallSeconds(), report);
            }
            feed.OnEpoch(report);
        });
        Debug.Assert(reports.Count == result.Epochs.Count);
        return new TrainingOutcome(reports, result.Weights, result.SamplesSeenPerEpoch);
    }

    /// <summary>
    /// Runs the simulation to the end; Ctrl-C cancels it cleanly. <paramref name="onEpoch"/> is called on an actor thread,
    /// in epoch order, which keeps progress lines in order without blocking training.
    /// </summary>
    internal static DistributedTrainingResult RunLocal(LocalSimulationOptions options, Action<Actors.Coordinator.EpochReport> onEpoch)
    {
        using var cancel = new CancellationTokenSource();
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
        catch (OperationCanceledException)
        {
            throw new UsageException("training cancelled");
        }
        finally
        {
            Console.CancelKeyPress -= onCancel;
        }
    }

    /// <summary>An IProgress that calls back on the reporting thread, unlike <see cref="Progress{T}"/> which posts to the thread pool.</summary>
    internal sealed class SynchronousProgress<T>(Action<T> report) : IProgress<T>
    {
        public void Report(T value) => report(value);
    }
}
