using System.Diagnostics;
using System.Globalization;
using System.Text.Json.Nodes;
using DistTrainer.Actors.Messages;
using DistTrainer.Cli.ModelFiles;
using DistTrainer.Cli.Run;
using DistTrainer.Numerics.Data;
using DistTrainer.Numerics.Models;
using DistTrainer.Numerics.Optimizers;
using DistTrainer.Numerics.Training;

namespace DistTrainer.Cli.Commands;

/// <summary>`disttrainer train`: load a dataset, train an MLP (or an RBM: see <see cref="RbmRun"/>), report each epoch and a final summary.</summary>
public static class TrainCommand
{
    public static readonly OptionSpec[] Options =
    [
        new("model", "mlp | rbm (Bernoulli RBM by contrastive divergence; defaults sgd lr 0.06, batch 10, 30 epochs, --hidden 100)", Default: "mlp"),
        new("data", "digits | iris | wine | breast_cancer | diabetes | PATH to a CSV file or a folder of IDX files", Default: "digits"),
        new("label", "name of the label column of a CSV file", Default: "the last column"),
        new("task", "classification | regression", Default: "inferred from the label column"),
        new("hidden", "hidden layer sizes, comma-separated (\"none\" for softmax/linear regression)", Default: "64"),
        new("activation", "relu | tanh | sigmoid", Default: "relu"),
        new("epochs", "passes over the training set", Default: "auto: about 2000 steps, 10..200 epochs"),
        new("batch", "global minibatch size", Default: "32"),
        new("lr", "learning rate", Default: "0.001 for adam, 0.01 for momentum/nesterov, 0.1 for sgd"),
        new("optimizer", "sgd | momentum | nesterov | adam", Default: "adam"),
        new("momentum", "momentum coefficient for momentum/nesterov", Default: "0.9"),
        new("weight-decay", "L2 weight decay λ (adds λw to the gradient)", Default: "0.01"),
        new("seed", "seed for initialisation and shuffling", Default: "42"),
        new("threads", "compute threads for the matrix kernels (per worker)", Default: "1"),
        new("cd-steps", "RBM: Gibbs steps k of CD-k (with --model rbm or --pretrain rbm)", Default: "1"),
        new("persistent", "RBM: persistent CD, one chain per training sample; checkpoints hold the chains of the plain loop, with workers (whose chains they do not hold) no checkpoint is written", TakesValue: false),
        new("pretrain", "rbm: greedy RBM pretraining of the MLP's first hidden layer before backpropagation"),
        new("pretrain-epochs", "epochs of RBM pretraining", Default: "30"),
        new("workers", "0 trains in a plain loop; N ≥ 1 runs the actor protocol in this process with N workers", Default: "2 (--model rbm: 0)"),
        new("mode", "sync | async parameter updates (with --workers)", Default: "sync"),
        new("crash-worker", "I@E: stop worker I (0-based) during epoch E (1-based), at a seeded step; repeatable", Repeatable: true),
        new("straggler", "I:MS: delay every gradient push of worker I by MS milliseconds; repeatable", Repeatable: true),
        new("out", "run folder for metrics.csv, summary.json, model.dtm, curves.png and checkpoint.dtc", Default: "runs/<yyyyMMdd-HHmmss>"),
        new("log-every", "write a metrics.csv row every N optimizer steps (0: epoch rows only)", Default: "50"),
        new("checkpoint-every", "also checkpoint every N optimizer steps (0: at epoch ends only; with workers: sync mode only, not with --persistent)", Default: "0"),
        new("resume", "continue the run in this folder from its last checkpoint (--epochs may raise the total); sync mode and the plain loop reach the uninterrupted result, async mode continues from the last epoch end; --persistent resumes in the plain loop only"),
        new("json", "print one single-line JSON summary as the last line of stdout (progress goes to stderr)", TakesValue: false),
        new("quiet", "no progress (the run folder is still written)", TakesValue: false),
        new("help", "show this help", TakesValue: false),
    ];

    public static int Run(IReadOnlyList<string> args)
    {
        var options = ParsedOptions.Parse("train", args, Options);
        if (options.Flag("help"))
        {
            Console.WriteLine(ParsedOptions.Help("disttrainer train [options]", "Trains a multilayer perceptron or a restricted Boltzmann machine in this process.", Options));
            return 0;
        }
        options.NoPositionals();
        var json = options.Flag("json");
        if (options.Choice("model", ModelKind.Mlp, new Dictionary<string, ModelKind> { ["mlp"] = ModelKind.Mlp, ["rbm"] = ModelKind.Rbm }) == ModelKind.Rbm)
        {
            return RbmRun.Run(options, json);
        }
        RbmRun.CheckMlpOptions(options);
        var clock = Stopwatch.StartNew();
        var simulation = SimulationSettings.FromOptions(options);
        if (simulation is { Mode: TrainingMode.Async } && options.Int("checkpoint-every", 0, min: 0) > 0)
        {
            throw new UsageException("--checkpoint-every needs --mode sync; async mode checkpoints at each epoch end");
        }
        var (dir, checkpoint) = RunDirectory.CreateOrResume(options);
        using var sweeper = RunDirectory.RemoveIfLeftEmpty(dir);
        var job = checkpoint is null ? TrainJob.FromOptions(options) : JobOptions.ForResume(checkpoint, options, dir);
        var settings = new RunSettings(dir, options.Int("log-every", 50, min: 0), options.Int("checkpoint-every", 0, min: 0));

        var data = job.LoadData();
        var training = job.CreateTrainingOptions(data.Train.Count);
        if (checkpoint is not null)
        {
            CheckResumable(checkpoint, data, training, dir);
        }
        var spec = job.CreateSpec(data);
        var model = new Mlp(spec);
        var workers = new WorkerTable();
        using var progress = IProgressView.Create(options.Flag("quiet"), json, workers);
        progress.Line($"{data.Name}: {data.Train.Count} train / {data.Test.Count} test samples, {data.Train.FeatureCount} features, {TaskText(data)}");
        progress.Line($"model {spec} ({model.ParameterCount:N0} parameters), {training.Optimizer.Kind.ToString().ToLowerInvariant()} lr {training.Optimizer.LearningRate.ToString(CultureInfo.InvariantCulture)}, batch {training.BatchSize}, {training.Epochs} epochs, seed {training.Seed}");
        progress.Line(checkpoint is null ? $"run folder {dir}" : $"resuming {dir} at epoch {checkpoint.Epoch + 1}, step {checkpoint.Step}");
        var pretrained = RbmRun.Pretrain(options, model, data, training);
        if (pretrained is not null)
        {
            progress.Line(pretrained.Description);
        }

        RunResult result;
        if (simulation is null || (checkpoint is not null && !HasWorkLeft(checkpoint, training)))
        {
            // A finished run resumed without new epochs only re-evaluates its weights: the plain loop does that.
            result = TrainingRun.Execute(job, data, training, settings, progress, checkpoint, pretrained?.Weights);
        }
        else
        {
            // The coordinator reports steps and epochs and hands over the checkpoints; the folder writes them.
            using var folder = new DistributedRunFolder(dir, job, data, model, training, checkpoint, settings.StopAfterStep);
            var feed = new ActorProgressFeed(progress, workers, folder.WriteStep, settings.LogEvery, data, training, folder.WallSeconds);
            result = SimulationRun.Execute(model, data, training, simulation, folder, settings, feed, pretrained?.Weights);
        }
        if (pretrained is not null)
        {
            result.Summary!["pretrain"] = "rbm";
            TrainingRun.WriteSummary(dir, result.Summary);
        }
        if (json)
        {
            progress.Dispose();
            Console.Out.WriteLine(result.Summary!.ToJsonString());
        }
        else
        {
            progress.Line(result.LastReport!.FinalText(clock.Elapsed.TotalSeconds));
            progress.Line($"wrote {Path.Combine(dir, TrainingRun.ModelFileName)}, {MetricsCsv.FileName}, {TrainingRun.CurvesFileName}, {TrainingRun.SummaryFileName}");
        }
        return 0;
    }

    /// <summary>True unless the checkpoint is at the end of the last of <paramref name="training"/>'s epochs.</summary>
    internal static bool HasWorkLeft(Checkpoint checkpoint, TrainingOptions training) => checkpoint.Epoch < training.Epochs;

    /// <summary>A resume must see the same data and must have epochs left to train (or exactly none).</summary>
    internal static void CheckResumable(Checkpoint checkpoint, PreparedData data, TrainingOptions training, string dir) =>
        JobOptions.CheckResumable(checkpoint, Checkpoint.HashData(data.Train, data.Test), data.Name, training, dir);

    internal static string TaskText(PreparedData data) =>
        data.Train.Task == TaskKind.Classification ? $"classification into {data.Train.ClassCount} classes" : "regression";
}

/// <summary>The training job as the user described it on the command line, with defaults filled in.</summary>
public sealed record TrainJob(
    string Data, string? Label, TaskKind? Task, int[] Hidden, Activation Activation, int? Epochs, int Batch,
    OptimizerOptions Optimizer, int Seed, int Threads)
{
    /// <summary>The "auto" epoch count aims at about this many optimizer steps, so tiny datasets still converge.</summary>
    private const int AutoSteps = 2000;

    public static TrainJob FromOptions(ParsedOptions o)
    {
        var kind = o.Choice("optimizer", OptimizerKind.Adam, new Dictionary<string, OptimizerKind>
        {
            ["sgd"] = OptimizerKind.Sgd,
            ["momentum"] = OptimizerKind.Momentum,
            ["nesterov"] = OptimizerKind.Nesterov,
            ["adam"] = OptimizerKind.Adam,
        });
        var optimizer = new OptimizerOptions(
            kind,
            o.Float("lr", OptimizerOptions.DefaultLearningRate(kind), min: 1e-9f),
            Momentum: o.Float("momentum", 0.9f, min: 0f, max: 0.9999f),
            WeightDecay: o.Float("weight-decay", 0.01f, min: 0f));
        return new TrainJob(
            o.String("data", "digits"),
            o.String("label"),
            o.Has("task") ? o.Choice<TaskKind?>("task", null, new Dictionary<string, TaskKind?> { ["classification"] = TaskKind.Classification, ["regression"] = TaskKind.Regression }) : null,
            o.IntList("hidden", [64]),
            o.Choice("activation", Activation.Relu, new Dictionary<string, Activation> { ["relu"] = Activation.Relu, ["tanh"] = Activation.Tanh, ["sigmoid"] = Activation.Sigmoid }),
            o.Has("epochs") ? o.Int("epochs", 0, min: 1) : null,
            o.Int("batch", 32, min: 1),
            optimizer,
            o.Int("seed", 42),
            o.Int("threads", 1, min: 1, max: 256));
    }

    public PreparedData LoadData()
    {
        var loaded = DatasetCatalog.Load(Data, Label, Task);
        return PreparedData.Standardize(loaded.Name, loaded.Train, loaded.Test);
    }

    public ModelSpec CreateSpec(PreparedData data) =>
        Mlp.CreateSpec(data.Train.FeatureCount, Hidden, data.Outputs, Activation, data.Train.Task);

    public TrainingOptions CreateTrainingOptions(int trainSamples)
    {
        var stepsPerEpoch = Math.Max(1, (trainSamples + Batch - 1) / Batch);
        var epochs = Epochs ?? Math.Clamp((AutoSteps + stepsPerEpoch - 1) / stepsPerEpoch, 10, 200);
        return new TrainingOptions(epochs, Batch, Optimizer, Seed, Threads);
    }
}
