using System.Diagnostics;
using System.Globalization;
using System.Text.Json.Nodes;
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
        new("persistent", "RBM: persistent CD, one chain per training sample", TakesValue: false),
        new("pretrain", "rbm: greedy RBM pretraining of the MLP's first hidden layer before backpropagation"),
        new("pretrain-epochs", "epochs of RBM pretraining", Default: "30"),
        new("workers", "0 trains in a plain loop; N ≥ 1 runs the actor protocol in this process with N workers", Default: "0"),
        new("mode", "sync | async parameter updates (with --workers)", Default: "sync"),
        new("crash-worker", "I@E: stop worker I (0-based) during epoch E (1-based), at a seeded step; repeatable", Repeatable: true),
        new("straggler", "I:MS: delay every gradient push of worker I by MS milliseconds; repeatable", Repeatable: true),
        new("json", "print one single-line JSON summary as the last line of stdout (progress goes to stderr)", TakesValue: false),
        new("quiet", "no per-epoch progress", TakesValue: false),
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
        var progress = options.Flag("quiet") ? TextWriter.Null : json ? Console.Error : Console.Out;
        if (options.Choice("model", ModelKind.Mlp, new Dictionary<string, ModelKind> { ["mlp"] = ModelKind.Mlp, ["rbm"] = ModelKind.Rbm }) == ModelKind.Rbm)
        {
            return RbmRun.Run(options, json, progress);
        }
        RbmRun.CheckMlpOptions(options);

        var job = TrainJob.FromOptions(options);
        var clock = Stopwatch.StartNew();
        var data = job.LoadData();
        var spec = job.CreateSpec(data);
        var model = new Mlp(spec);
        var training = job.CreateTrainingOptions(data.Train.Count);
        progress.WriteLine($"{data.Name}: {data.Train.Count} train / {data.Test.Count} test samples, {data.Train.FeatureCount} features, {TaskText(data)}");
        progress.WriteLine($"model {spec} ({model.ParameterCount:N0} parameters), {training.Optimizer.Kind.ToString().ToLowerInvariant()} lr {training.Optimizer.LearningRate.ToString(CultureInfo.InvariantCulture)}, batch {training.BatchSize}, {training.Epochs} epochs, seed {training.Seed}");

        var simulation = SimulationSettings.FromOptions(options);
        var initialWeights = RbmRun.Pretrain(options, model, data, training, progress);
        var outcome = simulation is null
            ? RunInProcess(model, data, training, progress, initialWeights)
            : SimulationRun.Run(model, data, training, simulation, progress, initialWeights);
        var reports = outcome.Reports;
        var trainSeconds = reports.Sum(r => r.Seconds);
        var summary = Summary.Create(data, model, training, reports, trainSeconds, clock.Elapsed.TotalSeconds);
        if (data.Train.Task == TaskKind.Classification)
        {
            summary["train_accuracy"] = Summary.Number(Evaluator.Evaluate(model, outcome.Weights, data.Train, data.TargetScaling, training.Threads).Accuracy);
        }
        if (initialWeights is not null)
        {
            summary["pretrain"] = "rbm";
        }
        if (simulation is not null)
        {
            summary["workers"] = simulation.Workers;
            summary["mode"] = simulation.Mode.ToString().ToLowerInvariant();
            summary["samples_seen_per_epoch"] = new JsonArray(outcome.SamplesSeenPerEpoch!.Select(n => (JsonNode)n).ToArray());
        }
        if (json)
        {
            Console.Out.WriteLine(summary.ToJsonString());
        }
        else
        {
            progress.WriteLine(reports[^1].FinalText(clock.Elapsed.TotalSeconds));
        }
        return 0;
    }

    private static TrainingOutcome RunInProcess(Mlp model, PreparedData data, TrainingOptions training, TextWriter progress, float[]? initialWeights)
    {
        var trainer = new Trainer(model, data.Train, training, initialWeights);
        var reports = new List<EpochReport>();
        for (var epoch = 0; epoch < training.Epochs; epoch++)
        {
            var epochClock = Stopwatch.StartNew();
            var stats = trainer.TrainEpoch(epoch);
            var seconds = epochClock.Elapsed.TotalSeconds;
            var report = EpochReport.Create(epoch + 1, stats.MeanLoss, stats.Samples, seconds, model, trainer.Weights, data, training.Threads);
            reports.Add(report);
            progress.WriteLine(report.Format(training.Epochs));
        }
        return new TrainingOutcome(reports, trainer.Weights, null);
    }

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
            ["sgd"] = OptimizerKind.Sgd, ["momentum"] = OptimizerKind.Momentum, ["nesterov"] = OptimizerKind.Nesterov, ["adam"] = OptimizerKind.Adam,
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
