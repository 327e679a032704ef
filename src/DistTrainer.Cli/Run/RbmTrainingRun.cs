using System.Diagnostics;
using DistTrainer.Cli.Commands;
using DistTrainer.Cli.ModelFiles;
using DistTrainer.Numerics.Data;
using DistTrainer.Numerics.Models;
using DistTrainer.Numerics.Training;

namespace DistTrainer.Cli.Run;

/// <summary>An RBM run: the model, its min-max scaled splits and scaler, the options, and where and how it reports.</summary>
public sealed record RbmRunContext(
    Rbm Model, Dataset Train, Dataset? Test, MinMaxScaler Scaler, string DatasetName, TrainingOptions Training, RbmPipelineOptions Pipeline,
    Dictionary<string, string> CanonicalOptions, RunSettings Settings, IProgressView View)
{
    public byte[] DataHash() => RbmTrainingRun.DataHash(Train, Test);

    public RunFolderModel FolderModel() => RbmTrainingRun.FolderModel(Model, Train, Test, Scaler, DatasetName, CanonicalOptions);
}

/// <summary>
/// What RBM training produced: final weights, the last epoch's metrics, epochs trained, training time (this session and
/// any before a resume), wall time before a resume, and with workers the samples seen per epoch.
/// </summary>
public sealed record RbmRunOutcome(
    float[] Weights, RbmEpochMetrics Last, int Epochs, double TrainSeconds, double WallBefore, int[]? SamplesSeenPerEpoch, bool Stopped);

/// <summary>
/// The single-process RBM loop with its run folder: metrics.csv (step and epoch rows), checkpoint.dtc (atomic, at each
/// epoch end and every N steps) and curves.png. It walks each epoch's seeded order with <see cref="Trainer.TrainStep"/>,
/// the same batches as <see cref="RbmPipeline.TrainRbm"/>; CD draws its random numbers from (seed, step, sample), so a
/// resumed run needs only weights, optimizer state, step, cursor and, for persistent CD, the fantasy chains to continue
/// exactly.
/// </summary>
public static class RbmTrainingRun
{
    private static readonly TimeSpan CurvesRefresh = TimeSpan.FromSeconds(10);

    public static RbmRunOutcome Execute(RbmRunContext run, Checkpoint? resume)
    {
        var clock = Stopwatch.StartNew();
        var (model, train, test, training, settings, view) = (run.Model, run.Train, run.Test, run.Training, run.Settings, run.View);
        var dir = settings.Directory;
        var trainer = new Trainer(model, train, training, resume?.Model.Weights);
        if (resume is not null)
        {
            trainer.Optimizer.ImportState(resume.OptimizerState);
            trainer.RestoreStep(resume.Step);
            RestoreChains(model, trainer, resume, Path.Combine(dir, Checkpoint.FileName));
        }
        var dataHash = resume?.DataHash ?? run.DataHash();
        var history = resume?.History.ToList() ?? [];
        var trainSeconds = resume?.TrainSeconds ?? 0;
        var wallBefore = resume?.WallSeconds ?? 0;
        var learningRate = (double)training.Optimizer.LearningRate;
        var n = train.Count;
        var batch = training.BatchSize;
        var stepsPerEpoch = (n + batch - 1) / batch;
        var totalSteps = (long)stepsPerEpoch * training.Epochs;
        var sessionStartStep = trainer.Step;
        var sessionTrainSeconds = 0.0;
        var metricsWorkspace = model.CreateWorkspace(256, training.Threads);
        RbmEpochMetrics? last = null;

        var metricsPath = Path.Combine(dir, MetricsCsv.FileName);
        using var metrics = RbmMetricsCsv.Open(metricsPath, resume?.Step);
        double Wall() => wallBefore + clock.Elapsed.TotalSeconds;

        Checkpoint Snapshot(int epoch, int cursor, double lossSum, double epochSeconds)
        {
            var (chains, started) = model.ExportChains(trainer.Workspace);
            return new()
            {
                Model = TrainedModel.FromRbm(run.DatasetName, train, run.Scaler, model, trainer.Weights, null, []).ToContent(),
                Optimizer = training.Optimizer.Kind.ToString().ToLowerInvariant(),
                OptimizerState = trainer.Optimizer.ExportState(),
                Epoch = epoch,
                Cursor = cursor,
                Step = trainer.Step,
                EpochLossSum = lossSum,
                EpochSeconds = epochSeconds,
                Epochs = training.Epochs,
                Options = run.CanonicalOptions,
                DataHash = dataHash,
                TrainSeconds = trainSeconds,
                WallSeconds = Wall(),
                History = [.. history],
                PersistentChains = chains,
                ChainStarted = started,
            };
        }
        var checkpointPath = Path.Combine(dir, Checkpoint.FileName);

        var curvesClock = Stopwatch.StartNew();
        for (var epoch = resume?.Epoch ?? 0; epoch < training.Epochs; epoch++)
        {
            var resumedHere = resume is not null && epoch == resume.Epoch;
            var cursor = resumedHere ? resume!.Cursor : 0;
            var lossSum = resumedHere ? resume!.EpochLossSum : 0;
            var epochSeconds = resumedHere ? resume!.EpochSeconds : 0;
            var order = EpochOrder.Create(training.Seed, epoch, n);
            double windowLoss = 0;
            var windowSamples = 0;
            var windowClock = Stopwatch.StartNew();
            var stepClock = new Stopwatch();
            while (cursor < n)
            {
                var rows = order.AsSpan(cursor, Math.Min(batch, n - cursor));
                stepClock.Restart();
                var loss = trainer.TrainStep(rows);
                var seconds = stepClock.Elapsed.TotalSeconds;
                epochSeconds += seconds;
                trainSeconds += seconds;
                sessionTrainSeconds += seconds;
                lossSum += loss;
                cursor += rows.Length;
                windowLoss += loss;
                windowSamples += rows.Length;

                var sessionSteps = trainer.Step - sessionStartStep;
                var eta = TimeSpan.FromSeconds(sessionTrainSeconds / Math.Max(1, sessionSteps) * Math.Max(0, totalSteps - trainer.Step));
                view.Step(new StepProgress(epoch + 1, training.Epochs, (cursor + batch - 1) / batch, stepsPerEpoch,
                    lossSum / cursor, null, epochSeconds > 0 ? cursor / epochSeconds : 0, eta));

                if (settings.LogEvery > 0 && trainer.Step % settings.LogEvery == 0)
                {
                    var elapsed = windowClock.Elapsed.TotalSeconds;
                    metrics.Step(epoch + 1, trainer.Step, windowLoss / windowSamples, learningRate, elapsed > 0 ? windowSamples / elapsed : 0, Wall());
                    windowLoss = 0;
                    windowSamples = 0;
                    windowClock.Restart();
                }
                if (settings.CheckpointEvery > 0 && trainer.Step % settings.CheckpointEvery == 0 && cursor < n)
                {
                    Snapshot(epoch, cursor, lossSum, epochSeconds).Save(checkpointPath);
                }
                if (trainer.Step == settings.StopAfterStep)
                {
                    return new RbmRunOutcome(trainer.Weights, Measure(run, trainer.Weights, metricsWorkspace), epoch, trainSeconds, wallBefore, null, Stopped: true);
                }
            }

            last = Measure(run, trainer.Weights, metricsWorkspace) with { Epoch = epoch, TrainLoss = lossSum / n, FitSeconds = trainSeconds };
            history.Add(new EpochRecord { TrainLoss = last.TrainLoss, Samples = n, Seconds = epochSeconds });
            var samplesPerSecond = epochSeconds > 0 ? n / epochSeconds : 0;
            metrics.Epoch(epoch + 1, trainer.Step, learningRate, samplesPerSecond, Wall(), last);
            view.Line(RbmRun.FormatEpoch(last, training.Epochs, samplesPerSecond));
            Snapshot(epoch + 1, 0, 0, 0).Save(checkpointPath);
            if (curvesClock.Elapsed >= CurvesRefresh)
            {
                SaveCurves(dir);
                curvesClock.Restart();
            }
        }

        // Resumed at the very end: the final weights are those the last epoch was measured on.
        last ??= Measure(run, trainer.Weights, metricsWorkspace) with { Epoch = history.Count - 1, TrainLoss = history[^1].TrainLoss, FitSeconds = trainSeconds };
        metrics.Dispose();
        SaveCurves(dir);
        return new RbmRunOutcome(trainer.Weights, last, history.Count, trainSeconds, wallBefore, null, Stopped: false);
    }

    /// <summary>The hash a checkpoint keeps of the scaled splits (the same with or without workers, so either may resume it).</summary>
    public static byte[] DataHash(Dataset train, Dataset? test) =>
        Checkpoint.HashData(train, test ?? new Dataset(train.Name, train.FeatureNames, train.LabelName, train.Task, train.ClassCount, [], []));

    /// <summary>What a run folder with workers (`train --workers N`, the coordinator node) needs of an RBM; its checkpoint model has no classifier yet.</summary>
    public static RunFolderModel FolderModel(Rbm model, Dataset train, Dataset? test, MinMaxScaler scaler, string datasetName, Dictionary<string, string> options) =>
        new(options, DataHash(train, test), w => TrainedModel.FromRbm(datasetName, train, scaler, model, w, null, []).ToContent(),
            (path, keep) => RbmMetricsCsv.Open(path, keep), LastEpochRowAtFinish: false);

    /// <summary>Persistent CD: the checkpoint's fantasy chains back into the trainer's workspace.</summary>
    private static void RestoreChains(Rbm model, Trainer trainer, Checkpoint resume, string path)
    {
        if (!model.Options.Persistent)
        {
            return;
        }
        try
        {
            model.ImportChains(trainer.Workspace, resume.PersistentChains, resume.ChainStarted);
        }
        catch (ArgumentException e)
        {
            throw new ModelFileException($"{path}: corrupt checkpoint: {e.Message}", e);
        }
    }

    /// <summary>curves.png of an RBM run: reconstruction error (left) and pseudo-log-likelihood (right), train and test.</summary>
    public static void SaveCurves(string dir) =>
        CurvesPlot.Save(Path.Combine(dir, TrainingRun.CurvesFileName), RbmMetricsCsv.ReadCurve(Path.Combine(dir, MetricsCsv.FileName)),
            "pseudo-log-likelihood", "reconstruction error");

    private static RbmEpochMetrics Measure(RbmRunContext run, float[] weights, ModelWorkspace workspace) =>
        RbmPipeline.Measure(run.Model, weights, run.Train, run.Test, run.Training.Seed, workspace);
}
