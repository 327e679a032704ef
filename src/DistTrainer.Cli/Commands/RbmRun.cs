using System.Diagnostics;
using System.Globalization;
using System.Text.Json.Nodes;
using DistTrainer.Actors.Coordinator;
using DistTrainer.Actors.Messages;
using DistTrainer.Actors.Simulation;
using DistTrainer.Cli.ModelFiles;
using DistTrainer.Cli.Run;
using DistTrainer.Numerics.Data;
using DistTrainer.Numerics.Models;
using DistTrainer.Numerics.Optimizers;
using DistTrainer.Numerics.Training;

namespace DistTrainer.Cli.Commands;

/// <summary>
/// `disttrainer train --model rbm`: min-max scaling on the training split, CD-k training of a Bernoulli RBM (in this
/// process, or through the actor protocol with --workers N), per-epoch reconstruction error and pseudo-log-likelihood,
/// then, for labeled data, a softmax classifier on the hidden-unit probabilities. Also `--pretrain rbm` for MLPs.
/// </summary>
public static class RbmRun
{
    /// <summary>Options that only make sense for an MLP; given with --model rbm they are a usage error.</summary>
    private static readonly string[] _mlpOnlyOptions = ["activation", "pretrain", "pretrain-epochs"];

    /// <summary>The RBM options of `train`: they apply to --model rbm and to --pretrain rbm.</summary>
    private static readonly string[] _rbmOptions = ["cd-steps", "persistent"];

    public static int Run(ParsedOptions options, bool json)
    {
        foreach (var name in _mlpOnlyOptions)
        {
            if (options.Has(name))
            {
                throw new UsageException($"--{name} applies to --model mlp only");
            }
        }
        var clock = Stopwatch.StartNew();
        var simulation = SimulationSettings.FromOptions(options, defaultWorkers: 0);
        if (simulation is { Mode: TrainingMode.Async } && options.Int("checkpoint-every", 0, min: 0) > 0)
        {
            throw new UsageException("--checkpoint-every needs --mode sync; async mode checkpoints at each epoch end");
        }
        CheckPersistentWithWorkers(simulation is not null, options.Flag("persistent"), options.Has("resume") || options.Has("checkpoint-every"));
        var (dir, checkpoint) = RunDirectory.CreateOrResume(options);
        using var sweeper = RunDirectory.RemoveIfLeftEmpty(dir);
        var job = checkpoint is null ? RbmJob.FromOptions(options) : RbmJob.ForResume(checkpoint, options, dir);
        CheckPersistentWithWorkers(simulation is not null, job.Persistent, checkpoint is not null);
        var settings = new RunSettings(dir, options.Int("log-every", 50, min: 0), options.Int("checkpoint-every", 0, min: 0));

        var loaded = DatasetCatalog.Load(job.Data, job.Label, job.Task);
        var scaler = MinMaxScaler.Fit(loaded.Train);
        var train = scaler.Apply(loaded.Train);
        var testSplit = scaler.Apply(loaded.Test);
        var test = testSplit.Count > 0 ? testSplit : null;
        var pipeline = job.PipelineOptions(train.Count);
        var spec = Rbm.CreateSpec(train.FeatureCount, job.Hidden);
        var model = new Rbm(spec, pipeline.Rbm with { Seed = job.Seed });
        var training = new TrainingOptions(pipeline.Epochs, pipeline.BatchSize, pipeline.Optimizer, job.Seed, job.Threads);
        training.Validate();
        if (checkpoint is not null)
        {
            CheckResumable(checkpoint, train, test, training, dir);
        }

        var workers = new WorkerTable();
        using var view = IProgressView.Create(options.Flag("quiet"), json, workers);
        view.Line($"{loaded.Name}: {train.Count} train / {test?.Count ?? 0} test samples, {train.FeatureCount} features scaled to [0, 1] (min-max on train)");
        view.Line(string.Create(CultureInfo.InvariantCulture,
            $"model {spec} ({model.ParameterCount:N0} parameters), {CdText(pipeline.Rbm)}, {OptimizerText(training.Optimizer)}, batch {training.BatchSize}, {training.Epochs} epochs, seed {training.Seed}"));
        view.Line(checkpoint is null ? $"run folder {dir}" : $"resuming {dir} at epoch {checkpoint.Epoch + 1}, step {checkpoint.Step}");
        if (simulation is not null && pipeline.Rbm.Persistent)
        {
            view.Line("note: persistent chains live in each worker and are not checkpointed, so this run writes no checkpoint.dtc"
                + (simulation.Workers > 1 ? "; work moves between workers, so persistent CD with several workers is not the single-process result (plain CD is)" : ""));
        }

        var context = new RbmRunContext(model, train, test, scaler, loaded.Name, training, pipeline, job.CanonicalOptions(), settings, view);
        // A finished run resumed without new epochs only re-measures its weights: the plain loop does that.
        var outcome = simulation is null || (checkpoint is not null && !TrainCommand.HasWorkLeft(checkpoint, training))
            ? RbmTrainingRun.Execute(context, checkpoint)
            : TrainDistributed(context, simulation, checkpoint, workers);
        if (outcome.Stopped)
        {
            return 0;
        }

        var (summary, classifier) = Summarize(loaded.Name, model, outcome.Weights, train, test, pipeline, training, outcome.Last, outcome.Epochs,
            outcome.TrainSeconds, outcome.WallBefore + clock.Elapsed.TotalSeconds, view.Line);
        var trained = TrainedModel.FromRbm(loaded.Name, train, scaler, model, outcome.Weights, classifier?.Model, classifier is null ? [] : classifier.Weights);
        trained.Save(Path.Combine(dir, TrainingRun.ModelFileName));
        if (outcome.SamplesSeenPerEpoch is not null)
        {
            summary["workers"] = simulation!.Workers;
            summary["mode"] = simulation.Mode.ToString().ToLowerInvariant();
            summary["samples_seen_per_epoch"] = new JsonArray(outcome.SamplesSeenPerEpoch.Select(n => (JsonNode)n).ToArray());
        }
        TrainingRun.WriteSummary(dir, summary);

        if (json)
        {
            view.Dispose();
            Console.Out.WriteLine(summary.ToJsonString());
        }
        else
        {
            var quality = classifier is not null
                ? $"test accuracy {classifier.Test.Accuracy:F4}, "
                : "";
            view.Line(string.Create(CultureInfo.InvariantCulture,
                $"done in {clock.Elapsed.TotalSeconds:F1}s: {quality}reconstruction error {summary["reconstruction_error"]}, pseudo-log-likelihood {summary["pseudo_log_likelihood"]}"));
            view.Line($"wrote {Path.Combine(dir, TrainingRun.ModelFileName)}, {MetricsCsv.FileName}, {TrainingRun.CurvesFileName}, {TrainingRun.SummaryFileName}");
        }
        return 0;
    }

    /// <summary>
    /// After RBM training (single-process, simulated or on a cluster): fits the softmax classifier on the hidden-unit
    /// probabilities when the data has class labels and a test split, and builds the `--json` summary.
    /// </summary>
    internal static (JsonObject Summary, RbmClassifierResult? Classifier) Summarize(
        string datasetName, Rbm model, float[] weights, Dataset train, Dataset? test, RbmPipelineOptions pipeline, TrainingOptions training,
        RbmEpochMetrics last, int epochs, double trainSeconds, double wallSeconds, Action<string> log)
    {
        RbmClassifierResult? classifier = null;
        var classifierSeconds = 0.0;
        if (train.Task == TaskKind.Classification && train.ClassCount > 1 && test is not null)
        {
            var classifierClock = Stopwatch.StartNew();
            classifier = RbmPipeline.FitClassifier(model, weights, train, test, pipeline);
            classifierSeconds = classifierClock.Elapsed.TotalSeconds;
            log(string.Create(CultureInfo.InvariantCulture,
                $"softmax on the {model.Hidden} hidden-unit probabilities ({pipeline.ClassifierEpochs} epochs, {classifierSeconds:F1}s): train_acc {classifier.TrainAccuracy:F4}  test_acc {classifier.Test.Accuracy:F4}"));
        }
        var summary = new JsonObject
        {
            ["dataset"] = datasetName,
            ["task"] = train.Task == TaskKind.Classification ? "classification" : "regression",
            ["model"] = model.Spec.ToString(),
            ["parameters"] = model.ParameterCount,
            ["epochs"] = epochs,
            ["batch"] = training.BatchSize,
            ["optimizer"] = training.Optimizer.Kind.ToString().ToLowerInvariant(),
            ["learning_rate"] = training.Optimizer.LearningRate,
            ["weight_decay"] = training.Optimizer.WeightDecay,
            ["cd_steps"] = pipeline.Rbm.CdSteps,
            ["persistent"] = pipeline.Rbm.Persistent,
            ["seed"] = training.Seed,
            ["threads"] = training.Threads,
            ["train_samples"] = train.Count,
            ["test_samples"] = test?.Count ?? 0,
            ["final_train_loss"] = Summary.Number(last.TrainLoss),
            ["reconstruction_error"] = Summary.Number(test is null ? last.TrainReconstructionError : last.TestReconstructionError),
            ["pseudo_log_likelihood"] = Summary.Number(test is null ? last.TrainPseudoLogLikelihood : last.TestPseudoLogLikelihood),
            ["train_reconstruction_error"] = Summary.Number(last.TrainReconstructionError),
            ["train_pseudo_log_likelihood"] = Summary.Number(last.TrainPseudoLogLikelihood),
        };
        if (classifier is not null)
        {
            summary["train_accuracy"] = Summary.Number(classifier.TrainAccuracy);
            summary["test_accuracy"] = Summary.Number(classifier.Test.Accuracy);
            summary["classifier_seconds"] = Summary.Number(classifierSeconds);
        }
        var samples = (long)train.Count * epochs;
        summary["samples_per_second"] = Summary.Number(trainSeconds > 0 ? samples / trainSeconds : 0);
        summary["train_seconds"] = Summary.Number(trainSeconds);
        summary["wall_seconds"] = Summary.Number(wallSeconds);
        return (summary, classifier);
    }

    /// <summary>A resume must see the same data and must have epochs left to train (or exactly none).</summary>
    internal static void CheckResumable(Checkpoint checkpoint, Dataset train, Dataset? test, TrainingOptions training, string dir) =>
        JobOptions.CheckResumable(checkpoint, RbmTrainingRun.DataHash(train, test), train.Name, training, dir);

    /// <summary>Usage errors for RBM options given to a plain MLP run (no --pretrain rbm).</summary>
    public static void CheckMlpOptions(ParsedOptions options)
    {
        if (options.Has("pretrain"))
        {
            return;
        }
        foreach (var name in _rbmOptions.Append("pretrain-epochs"))
        {
            if (options.Has(name))
            {
                throw new UsageException($"--{name} applies to --model rbm or --pretrain rbm");
            }
        }
    }

    /// <summary>
    /// `--pretrain rbm`: the MLP's seeded initial weights with its first hidden layer replaced by an RBM trained on the
    /// training split (min-max scaled), folded back onto the standardized inputs the MLP sees. Null without --pretrain.
    /// </summary>
    public static PretrainedWeights? Pretrain(ParsedOptions options, Mlp model, PreparedData data, TrainingOptions training)
    {
        if (!options.Has("pretrain"))
        {
            return null;
        }
        if (options.Has("resume"))
        {
            throw new UsageException("--pretrain sets the starting weights of a new run; a resumed run continues from its checkpoint");
        }
        var what = options.String("pretrain", "");
        if (!string.Equals(what, "rbm", StringComparison.Ordinal))
        {
            throw new UsageException($"--pretrain expects \"rbm\", got \"{what}\"");
        }
        if (model.Spec.Hidden.Length == 0)
        {
            throw new UsageException("--pretrain rbm needs at least one hidden layer");
        }
        var defaults = new RbmPipelineOptions();
        var pipeline = defaults with
        {
            Epochs = options.Int("pretrain-epochs", defaults.Epochs, min: 1),
            Rbm = RbmOptionsFrom(options, data.Train.Count),
            Seed = training.Seed,
            Threads = training.Threads,
        };

        // Min-max scaling is invariant to the standardizer's affine map, so scaling the standardized inputs x gives the
        // RBM the same v as scaling the raw data, and v = x / range + (−min / range) per column.
        var scaler = MinMaxScaler.Fit(data.Train);
        var rbmTrain = scaler.Apply(data.Train);
        var scale = scaler.Scale.Select(s => 1f / s).ToArray();
        var offset = scaler.Min.Zip(scaler.Scale, (min, s) => -min / s).ToArray();

        var weights = new float[model.ParameterCount];
        model.Initialize(weights, training.Seed);
        var result = RbmPipeline.Pretrain(model, weights, rbmTrain, pipeline, scale, offset);
        var hidden = model.Spec.Hidden[0];
        var activation = model.Spec.Activation switch
        {
            Activation.Sigmoid => "sigmoid units compute the RBM's P(h|v) exactly",
            Activation.Tanh => "W and b halved, so tanh units compute 2·P(h|v) − 1",
            _ => "relu units keep the positive part of the RBM's pre-activation",
        };
        return new PretrainedWeights(weights, string.Create(CultureInfo.InvariantCulture,
            $"pretrain: layer 1 ({model.Spec.Inputs}→{hidden}) set from an RBM trained {pipeline.Epochs} epochs by {CdText(pipeline.Rbm)}, {OptimizerText(pipeline.Optimizer)}, batch {pipeline.BatchSize} on min-max scaled inputs in {result.FitSeconds:F2}s (final sampled reconstruction error {result.Epochs[^1].TrainLoss:F4}); {activation}"));
    }

    /// <summary>
    /// With --workers, persistent CD keeps its fantasy chains in the workers, which checkpoints do not hold: such a run
    /// cannot be resumed or checkpointed mid-epoch (the plain loop can).
    /// </summary>
    internal static void CheckPersistentWithWorkers(bool withWorkers, bool persistent, bool checkpointed)
    {
        if (withWorkers && persistent && checkpointed)
        {
            throw new UsageException("--persistent with --workers keeps its fantasy chains in the workers, which checkpoints do not hold: use --resume and --checkpoint-every with --workers 0, or plain CD");
        }
    }

    /// <summary>
    /// `train --model rbm --workers N`: the actor protocol with the run folder around it, as an MLP's: step and epoch rows
    /// in metrics.csv, checkpoint.dtc at each epoch end and every --checkpoint-every sync steps, and resume from it
    /// (persistent CD writes no checkpoint: its chains live in the workers). Continues from <paramref name="resume"/>.
    /// </summary>
    internal static RbmRunOutcome TrainDistributed(RbmRunContext run, SimulationSettings simulation, Checkpoint? resume, WorkerTable workers)
    {
        var (training, settings) = (run.Training, run.Settings);
        using var folder = new DistributedRunFolder(settings.Directory, run.FolderModel(), run.Train.Count, training, resume, settings.StopAfterStep);
        var feed = new ActorProgressFeed(run.View, workers, folder.WriteStep, settings.LogEvery, run.Train.Count, training,
            new StepWindow(StepMetric.LossOnly, 1, training.Optimizer.LearningRate), folder.WallSeconds);
        var options = new LocalSimulationOptions(run.Model.Spec, run.Train, run.Test, training, simulation.Workers, simulation.Mode)
        {
            Rbm = run.Pipeline.Rbm with { Seed = training.Seed },
            Crashes = simulation.Crashes,
            Stragglers = simulation.Stragglers,
            StepProgress = new SynchronousProgress<TrainingProgress>(feed.OnStep),
            ProgressEvery = settings.LogEvery,
            ProgressInterval = SimulationRun.ProgressInterval,
            Resume = folder.Resume,
            CheckpointEvery = settings.CheckpointEvery,
            OnCheckpoint = run.Pipeline.Rbm.Persistent ? null : folder.OnCheckpoint,
        };
        var result = SimulationRun.RunLocal(options, r =>
        {
            folder.OnEpoch(r);
            var workerTimes = "  step ms " + string.Join(' ', r.Workers.Select(w => w.Alive ? $"w{w.WorkerId}:{w.MeanStepMs:F1}" : $"w{w.WorkerId}:lost"));
            feed.OnEpoch(r.Seconds, FormatEpoch(r.Epoch, training.Epochs, Metrics(r), r.SamplesPerSecond, workerTimes));
        }, folder.StopToken);
        if (result is null || folder.Stopped)
        {
            folder.FlushCheckpoints();
            return new RbmRunOutcome([], Metrics(null), 0, 0, 0, null, Stopped: true);
        }
        var reports = folder.Close();
        folder.Complete(); // before model.dtm, which the caller writes: `train --resume` of a finished run writes it again
        RbmTrainingRun.SaveCurves(settings.Directory);
        var trainSeconds = reports.Sum(r => r.Seconds);
        return new RbmRunOutcome(result.Weights, Metrics(result.Epochs[^1]) with { FitSeconds = trainSeconds }, reports.Count, trainSeconds,
            resume?.WallSeconds ?? 0, [.. reports.Select(r => r.Samples)], Stopped: false);
    }

    /// <summary>An epoch of the actor protocol as RBM metrics (0-based epoch); NaN when it was not measured.</summary>
    internal static RbmEpochMetrics Metrics(Actors.Coordinator.EpochReport? r) =>
        r?.Test?.Rbm is { } measured
            ? measured with { Epoch = r.Epoch - 1, TrainLoss = r.TrainLoss }
            : new RbmEpochMetrics(0, double.NaN, double.NaN, double.NaN, double.NaN, double.NaN, 0);

    /// <summary>One epoch's progress line.</summary>
    internal static string FormatEpoch(RbmEpochMetrics m, int epochs, double samplesPerSecond) => FormatEpoch(m.Epoch + 1, epochs, m, samplesPerSecond, "");

    private static string FormatEpoch(int epoch, int epochs, RbmEpochMetrics m, double samplesPerSecond, string workers)
    {
        var width = epochs.ToString(CultureInfo.InvariantCulture).Length;
        var test = double.IsNaN(m.TestPseudoLogLikelihood) ? "" : $"  test_recon {m.TestReconstructionError:F4}  test_pll {m.TestPseudoLogLikelihood:F2}";
        return string.Create(CultureInfo.InvariantCulture,
            $"epoch {epoch.ToString(CultureInfo.InvariantCulture).PadLeft(width)}/{epochs}  loss {m.TrainLoss:F4}  recon {m.TrainReconstructionError:F4}  pll {m.TrainPseudoLogLikelihood:F2}{test}  {samplesPerSecond,10:N0} samples/s{workers}");
    }

    private static string CdText(RbmOptions rbm) => rbm.Persistent ? $"PCD-{rbm.CdSteps} ({rbm.PersistentChains} chains)" : $"CD-{rbm.CdSteps}";

    private static string OptimizerText(OptimizerOptions optimizer) =>
        string.Create(CultureInfo.InvariantCulture, $"{optimizer.Kind.ToString().ToLowerInvariant()} lr {optimizer.LearningRate}");

    /// <summary>--cd-steps and --persistent (one chain per training sample, so no two samples share a chain).</summary>
    private static RbmOptions RbmOptionsFrom(ParsedOptions options, int trainSamples) =>
        new(CdSteps: options.Int("cd-steps", 1, min: 1, max: 1000), PersistentChains: options.Flag("persistent") ? trainSamples : 0);


    /// <summary>An MLP's starting weights with the first hidden layer pretrained, and a line saying what was done.</summary>
    public sealed record PretrainedWeights(float[] Weights, string Description);

    /// <summary>The RBM job from the command line. Defaults are <see cref="RbmPipelineOptions"/>'s, never the MLP's.</summary>
    internal sealed record RbmJob(
        string Data, string? Label, TaskKind? Task, int Hidden, int? Epochs, int? Batch, OptimizerOptions Optimizer, int Seed, int Threads, int CdSteps, bool Persistent)
    {
        public static RbmJob FromOptions(ParsedOptions o)
        {
            var defaults = new RbmPipelineOptions();
            var kind = o.Choice("optimizer", defaults.Optimizer.Kind, new Dictionary<string, OptimizerKind>
            {
                ["sgd"] = OptimizerKind.Sgd,
                ["momentum"] = OptimizerKind.Momentum,
                ["nesterov"] = OptimizerKind.Nesterov,
                ["adam"] = OptimizerKind.Adam,
            });
            var defaultRate = kind == defaults.Optimizer.Kind ? defaults.Optimizer.LearningRate : OptimizerOptions.DefaultLearningRate(kind);
            var optimizer = defaults.Optimizer with
            {
                Kind = kind,
                LearningRate = o.Float("lr", defaultRate, min: 1e-9f),
                Momentum = o.Float("momentum", 0.9f, min: 0f, max: 0.9999f),
                WeightDecay = o.Float("weight-decay", defaults.Optimizer.WeightDecay, min: 0f),
            };
            var hidden = o.IntList("hidden", [defaults.Hidden]);
            if (hidden.Length != 1 || hidden[0] < 1)
            {
                throw new UsageException($"--model rbm has one hidden layer: give --hidden N (N ≥ 1), got \"{o.String("hidden")}\"");
            }
            var task = o.Has("task")
                ? o.Choice<TaskKind?>("task", null, new Dictionary<string, TaskKind?> { ["classification"] = TaskKind.Classification, ["regression"] = TaskKind.Regression })
                : null;
            return new RbmJob(
                o.String("data", "digits"), o.String("label"), task, hidden[0],
                o.Has("epochs") ? o.Int("epochs", 0, min: 1) : null,
                o.Has("batch") ? o.Int("batch", 0, min: 1) : null,
                optimizer, o.Int("seed", 42), o.Int("threads", 1, min: 1, max: 256),
                o.Int("cd-steps", 1, min: 1, max: 1000), o.Flag("persistent"));
        }

        /// <summary>The job as canonical option text, stored in checkpoints so a resume rebuilds the same job.</summary>
        public Dictionary<string, string> CanonicalOptions()
        {
            var defaults = new RbmPipelineOptions();
            var o = new Dictionary<string, string>(StringComparer.Ordinal)
            {
                ["model"] = "rbm",
                ["data"] = Data,
                ["hidden"] = Hidden.ToString(CultureInfo.InvariantCulture),
                ["batch"] = (Batch ?? defaults.BatchSize).ToString(CultureInfo.InvariantCulture),
                ["optimizer"] = Optimizer.Kind.ToString().ToLowerInvariant(),
                ["lr"] = Optimizer.LearningRate.ToString("R", CultureInfo.InvariantCulture),
                ["momentum"] = Optimizer.Momentum.ToString("R", CultureInfo.InvariantCulture),
                ["weight-decay"] = Optimizer.WeightDecay.ToString("R", CultureInfo.InvariantCulture),
                ["seed"] = Seed.ToString(CultureInfo.InvariantCulture),
                ["cd-steps"] = CdSteps.ToString(CultureInfo.InvariantCulture),
            };
            if (Persistent)
            {
                o["persistent"] = "true";
            }
            if (Label is not null)
            {
                o["label"] = Label;
            }
            if (Task is { } task)
            {
                o["task"] = task.ToString().ToLowerInvariant();
            }
            return o;
        }

        /// <summary>
        /// The job of the RBM run being resumed: the checkpoint's options, with --epochs and --threads from the command
        /// line. Any other option given again must match.
        /// </summary>
        public static RbmJob ForResume(Checkpoint checkpoint, ParsedOptions given, string dir)
        {
            var path = Path.Combine(dir, Checkpoint.FileName);
            if (!checkpoint.Options.TryGetValue("model", out var kind) || kind != "rbm")
            {
                throw new UsageException($"{path} is the checkpoint of an MLP run; resume it without --model rbm");
            }
            var args = JobOptions.ResumeArguments(checkpoint, given);
            RbmJob saved;
            try
            {
                saved = FromOptions(ParsedOptions.Parse("train", args, TrainCommand.Options));
            }
            catch (UsageException e)
            {
                throw new ModelFileException($"{path}: corrupt checkpoint: {e.Message}", e);
            }
            JobOptions.CheckGivenOptionsMatch(checkpoint, given, FromOptions(given).CanonicalOptions(), dir);
            return saved;
        }

        public RbmPipelineOptions PipelineOptions(int trainSamples)
        {
            var defaults = new RbmPipelineOptions();
            return defaults with
            {
                Hidden = Hidden,
                Epochs = Epochs ?? defaults.Epochs,
                BatchSize = Batch ?? defaults.BatchSize,
                Optimizer = Optimizer,
                Rbm = new RbmOptions(CdSteps: CdSteps, PersistentChains: Persistent ? trainSamples : 0),
                Seed = Seed,
                Threads = Threads,
            };
        }
    }
}
