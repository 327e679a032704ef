using System.Globalization;
using System.Text.Json.Nodes;
using DistTrainer.Actors.Cluster;
using DistTrainer.Actors.Messages;
using DistTrainer.Actors.Simulation;
using DistTrainer.Cli.ModelFiles;
using DistTrainer.Cli.Run;
using DistTrainer.Numerics.Data;
using DistTrainer.Numerics.Models;
using DistTrainer.Numerics.Training;
using ActorEpochReport = DistTrainer.Actors.Coordinator.EpochReport;

namespace DistTrainer.Cli.Commands;

/// <summary>
/// `disttrainer node --model rbm`: the RBM job of a cluster. Coordinator and worker nodes load the data and min-max scale
/// it on the training split, as `train --model rbm` does; workers compute CD gradients through the usual protocol
/// (<see cref="JobSpec.Rbm"/>), the coordinator measures reconstruction error and pseudo-log-likelihood each epoch and,
/// after the last one, fits the softmax classifier on the hidden-unit probabilities for the summary. Its run folder is
/// an MLP coordinator's (<see cref="DistributedRunFolder"/>) with the RBM's metrics.csv and model.dtm.
/// </summary>
internal sealed class RbmNode
{
    private RbmNode(string name, Dataset train, Dataset? test, MinMaxScaler scaler, RbmPipelineOptions pipeline, TrainingOptions training, Rbm model,
        Dictionary<string, string> canonicalOptions)
    {
        Name = name;
        Train = train;
        Test = test;
        Scaler = scaler;
        Pipeline = pipeline;
        Training = training;
        Model = model;
        CanonicalOptions = canonicalOptions;
    }

    public string Name { get; }
    public MinMaxScaler Scaler { get; }
    public Dictionary<string, string> CanonicalOptions { get; }
    public Dataset Train { get; }
    public Dataset? Test { get; }
    public RbmPipelineOptions Pipeline { get; }
    public TrainingOptions Training { get; }
    public Rbm Model { get; }

    /// <summary>Whether --model rbm was given; RBM-only options without it (and MLP-only ones with it) are usage errors.</summary>
    public static bool Requested(ParsedOptions options)
    {
        if (options.Choice("model", ModelKind.Mlp, new Dictionary<string, ModelKind> { ["mlp"] = ModelKind.Mlp, ["rbm"] = ModelKind.Rbm }) != ModelKind.Rbm)
        {
            if (options.Has("cd-steps") || options.Has("persistent"))
            {
                throw new UsageException("--cd-steps and --persistent apply to --model rbm");
            }
            return false;
        }
        if (options.Has("activation"))
        {
            throw new UsageException("--activation applies to --model mlp only");
        }
        return true;
    }

    /// <summary>A worker node's training split, min-max scaled on itself as `train --model rbm` scales it.</summary>
    public static Dataset LoadTrain(ParsedOptions options) => Load(RbmRun.RbmJob.FromOptions(options)).Train;

    /// <summary>
    /// The RBM job of the coordinator node (--model rbm): from the options, or with a checkpoint from the run it continues
    /// (which must see the same data and have work left).
    /// </summary>
    public static RbmNode Create(ParsedOptions options, Checkpoint? checkpoint, string dir)
    {
        var job = checkpoint is null ? RbmRun.RbmJob.FromOptions(options) : RbmRun.RbmJob.ForResume(checkpoint, options, dir);
        RbmRun.CheckPersistentWithWorkers(withWorkers: true, job.Persistent, checkpoint is not null || options.Has("checkpoint-every"));
        var (name, train, test, scaler) = Load(job);
        var pipeline = job.PipelineOptions(train.Count);
        var training = new TrainingOptions(pipeline.Epochs, pipeline.BatchSize, pipeline.Optimizer, job.Seed, job.Threads);
        training.Validate();
        if (checkpoint is not null)
        {
            RbmRun.CheckResumable(checkpoint, train, test, training, dir);
            if (!TrainCommand.HasWorkLeft(checkpoint, training))
            {
                throw new UsageException($"the run in {dir} has finished its {checkpoint.Epoch} epochs; raise --epochs to train more");
            }
        }
        var model = new Rbm(Rbm.CreateSpec(train.FeatureCount, job.Hidden), pipeline.Rbm with { Seed = job.Seed });
        return new RbmNode(name, train, test, scaler, pipeline, training, model, job.CanonicalOptions());
    }

    private static (string Name, Dataset Train, Dataset? Test, MinMaxScaler Scaler) Load(RbmRun.RbmJob job)
    {
        var loaded = DatasetCatalog.Load(job.Data, job.Label, job.Task);
        var scaler = MinMaxScaler.Fit(loaded.Train);
        return (loaded.Name, scaler.Apply(loaded.Train), loaded.Test.Count > 0 ? scaler.Apply(loaded.Test) : null, scaler);
    }

    /// <summary>The run folder's view of this RBM (checkpoint model, metrics.csv).</summary>
    public RunFolderModel FolderModel() => RbmTrainingRun.FolderModel(Model, Train, Test, Scaler, Name, CanonicalOptions);

    /// <summary>Step rows of an RBM report the loss only.</summary>
    public StepWindow StepWindow() => new(StepMetric.LossOnly, 1, Training.Optimizer.LearningRate);

    /// <summary>The coordinator's job: the spec every node checks, and the per-epoch RBM metrics.</summary>
    public ClusterJob CreateJob(string jobId, TrainingMode mode, int minWorkers)
    {
        var spec = JobSpec.Create(jobId, Model.Spec, Training.Optimizer, mode, Training.Seed, Math.Min(Training.BatchSize, Train.Count), Training.Epochs,
            Model.ParameterCount, DataFingerprint.Describe(Train), Model.Options);
        return new ClusterJob(spec, Train.Count, minWorkers, DistributedTraining.RbmEvaluator(Model, Train, Test, Training.Seed, Training.Threads));
    }

    public string Describe(TrainingMode mode) => string.Create(CultureInfo.InvariantCulture,
        $"{Name}: {Train.Count} train / {Test?.Count ?? 0} test samples scaled to [0, 1] (min-max on train); model {Model.Spec} ({Model.ParameterCount:N0} parameters), {(Model.Options.Persistent ? "PCD" : "CD")}-{Model.Options.CdSteps}; {Training.Epochs} epochs, batch {Training.BatchSize}, {mode.ToString().ToLowerInvariant()}");

    /// <summary>
    /// The same keys as `train --model rbm --json` (the classifier is fitted here), plus the cluster's; writes the run
    /// folder's end-of-run files (model.dtm, curves.png, summary.json). Epochs before a resume count.
    /// </summary>
    public JsonObject Summarize(DistributedTrainingResult result, DistributedRunFolder folder, Action<string> progress)
    {
        var reports = folder.Close();
        RbmTrainingRun.SaveCurves(folder.Directory);
        var last = RbmRun.Metrics(result.Epochs[^1]);
        var trainSeconds = reports.Sum(e => e.Seconds);
        var (summary, classifier) = RbmRun.Summarize(Name, Model, result.Weights, Train, Test, Pipeline, Training, last, reports.Count, trainSeconds,
            folder.WallSeconds(), progress);
        TrainedModel.FromRbm(Name, Train, Scaler, Model, result.Weights, classifier?.Model, classifier is null ? [] : classifier.Weights)
            .Save(Path.Combine(folder.Directory, TrainingRun.ModelFileName));
        summary["workers"] = result.Workers;
        summary["mode"] = result.Mode.ToString().ToLowerInvariant();
        summary["steps"] = result.Steps;
        summary["samples_seen_per_epoch"] = new JsonArray(reports.Select(r => (JsonNode)r.Samples).ToArray());
        summary["redriven_work"] = result.Epochs.Sum(e => e.RedrivenWork);
        summary["duplicate_samples"] = result.Epochs.Sum(e => e.DuplicateSamples);
        TrainingRun.WriteSummary(folder.Directory, summary);
        folder.Complete();
        return summary;
    }

    public string FormatEpoch(ActorEpochReport r)
    {
        var epochs = Training.Epochs;
        var workers = string.Join(" ", r.Workers.Select(w => string.Create(CultureInfo.InvariantCulture, $"w{w.WorkerId}:{w.MeanStepMs:F1}ms{(w.Alive ? "" : "(gone)")}")));
        var metrics = r.Test?.Rbm is { } m
            ? string.Create(CultureInfo.InvariantCulture, $"recon {m.TrainReconstructionError:F4}  pll {m.TrainPseudoLogLikelihood:F2}  test_recon {m.TestReconstructionError:F4}  test_pll {m.TestPseudoLogLikelihood:F2}")
            : "";
        return string.Create(CultureInfo.InvariantCulture,
            $"epoch {r.Epoch}/{epochs}  loss {r.TrainLoss:F4}  {metrics}  {r.SamplesPerSecond:N0} samples/s  samples {r.Samples}  steps {workers}");
    }
}
