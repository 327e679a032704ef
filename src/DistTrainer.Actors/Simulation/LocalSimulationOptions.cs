using System.Globalization;
using Akka.Configuration;
using DistTrainer.Actors.Coordinator;
using DistTrainer.Actors.Messages;
using DistTrainer.Numerics.Data;
using DistTrainer.Numerics.Models;
using DistTrainer.Numerics.Training;

namespace DistTrainer.Actors.Simulation;

/// <summary>
/// A local simulation: one ActorSystem with a coordinator, a parameter server and <see cref="Workers"/> workers.
/// <see cref="Training"/> gives epochs, the global batch (sync: split among workers; async: each worker's minibatch),
/// optimizer, seed and compute threads per worker. <see cref="Test"/> is evaluated after every epoch.
/// </summary>
public sealed record LocalSimulationOptions(ModelSpec Model, Dataset Train, Dataset? Test, TrainingOptions Training, int Workers = 2, TrainingMode Mode = TrainingMode.Sync)
{
    /// <summary>Regression targets' scaling, so the evaluation reports RMSE in the original units.</summary>
    public TargetScaling TargetScaling { get; init; } = TargetScaling.Identity;

    /// <summary>
    /// RBM only: CD steps and persistent chains, given to every worker. The sampling seed is always the job seed
    /// (<see cref="TrainingOptions.Seed"/>), as in single-process training, so <see cref="RbmOptions.Seed"/> is ignored.
    /// </summary>
    public RbmOptions? Rbm { get; init; }

    /// <summary>The RBM options every worker and the evaluator use: <see cref="Rbm"/> with the job seed.</summary>
    public RbmOptions? EffectiveRbm => Model.Kind == ModelKind.Rbm ? (Rbm ?? new RbmOptions()) with { Seed = Training.Seed } : null;

    /// <summary>
    /// The coordinator's <see cref="TrainingProgress"/> (on an actor thread) after every step that is a multiple of
    /// <see cref="ProgressEvery"/> and whenever <see cref="ProgressInterval"/> has passed; null: none.
    /// </summary>
    public IProgress<TrainingProgress>? StepProgress { get; init; }

    public int ProgressEvery { get; init; }

    public TimeSpan ProgressInterval { get; init; } = TimeSpan.FromMilliseconds(100);

    /// <summary>Start from these weights instead of the seeded initialisation.</summary>
    public float[]? InitialWeights { get; init; }

    /// <summary>Continue from a checkpoint: the parameter server is restored to it and the coordinator starts at its position.</summary>
    public ResumeFrom? Resume { get; init; }

    /// <summary>
    /// Receives a checkpoint at every epoch end and, in sync mode, every <see cref="CheckpointEvery"/> steps, on an actor
    /// thread and in order; slow work (file IO) belongs on another thread. Null: no checkpoints are taken.
    /// </summary>
    public Action<CheckpointTaken>? OnCheckpoint { get; init; }

    /// <summary>Sync mode: checkpoint every N optimizer steps as well (0: at epoch ends only).</summary>
    public int CheckpointEvery { get; init; }

    /// <summary><c>--crash-worker I@E</c>: stop worker I (0-based) during epoch E (1-based).</summary>
    public IReadOnlyList<CrashWorker> Crashes { get; init; } = [];

    /// <summary><c>--straggler I:MS</c>: delay every gradient push of worker I by MS milliseconds.</summary>
    public IReadOnlyList<Straggler> Stragglers { get; init; } = [];

    /// <summary>Overrides <c>disttrainer.step-timeout</c>.</summary>
    public TimeSpan? StepTimeout { get; init; }

    /// <summary>Akka log level on standard error (OFF, ERROR, WARNING, INFO, DEBUG).</summary>
    public string LogLevel { get; init; } = "WARNING";

    /// <summary>Extra HOCON that wins over the defaults.</summary>
    public Config? Config { get; init; }

    public void Validate()
    {
        Training.Validate();
        if (Workers < 1)
        {
            throw new ArgumentException($"--workers must be at least 1, got {Workers}");
        }
        if (Train.Count < 1)
        {
            throw new ArgumentException("the training set is empty");
        }
        if (CheckpointEvery < 0 || (CheckpointEvery > 0 && Mode != TrainingMode.Sync))
        {
            throw new ArgumentException("checkpoints every N steps need sync mode; async mode checkpoints at epoch ends");
        }
        if (Train.FeatureCount != Model.Inputs)
        {
            throw new ArgumentException($"the data has {Train.FeatureCount} features, the model expects {Model.Inputs}");
        }
        foreach (var crash in Crashes)
        {
            if (crash.Worker < 0 || crash.Worker >= Workers)
            {
                throw new ArgumentException($"--crash-worker {crash}: worker must be 0..{Workers - 1}");
            }
            if (crash.Epoch < 1 || crash.Epoch > Training.Epochs)
            {
                throw new ArgumentException($"--crash-worker {crash}: epoch must be 1..{Training.Epochs}");
            }
        }
        if (Crashes.Select(c => c.Worker).Distinct().Count() >= Workers)
        {
            throw new ArgumentException("--crash-worker would stop every worker; at least one must survive");
        }
        foreach (var straggler in Stragglers)
        {
            if (straggler.Worker < 0 || straggler.Worker >= Workers || straggler.DelayMilliseconds < 0)
            {
                throw new ArgumentException($"--straggler {straggler}: expected worker 0..{Workers - 1} and a delay ≥ 0 ms");
            }
        }
    }
}

/// <summary>
/// Stop worker <see cref="Worker"/> (0-based) during epoch <see cref="Epoch"/> (1-based). The batch inside the epoch is
/// seeded: <see cref="DistributedTraining.CrashBatchIndex"/>; the worker dies on receiving its first work at or after
/// that batch, without answering it.
/// </summary>
public readonly record struct CrashWorker(int Worker, int Epoch)
{
    /// <summary>Parses <c>I@E</c>.</summary>
    public static CrashWorker Parse(string text)
    {
        var parts = text.Split('@');
        if (parts.Length != 2 || !int.TryParse(parts[0], NumberStyles.None, CultureInfo.InvariantCulture, out var worker)
            || !int.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out var epoch))
        {
            throw new FormatException($"--crash-worker expects WORKER@EPOCH (e.g. 1@2), got \"{text}\"");
        }
        return new CrashWorker(worker, epoch);
    }

    public override string ToString() => $"{Worker}@{Epoch}";
}

/// <summary>Delay every gradient push of worker <see cref="Worker"/> (0-based) by <see cref="DelayMilliseconds"/>.</summary>
public readonly record struct Straggler(int Worker, int DelayMilliseconds)
{
    /// <summary>Parses <c>I:MS</c>.</summary>
    public static Straggler Parse(string text)
    {
        var parts = text.Split(':');
        if (parts.Length != 2 || !int.TryParse(parts[0], NumberStyles.None, CultureInfo.InvariantCulture, out var worker)
            || !int.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out var delay))
        {
            throw new FormatException($"--straggler expects WORKER:MILLISECONDS (e.g. 1:50), got \"{text}\"");
        }
        return new Straggler(worker, delay);
    }

    public override string ToString() => $"{Worker}:{DelayMilliseconds}";
}
