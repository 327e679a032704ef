using System.Diagnostics;
using System.Text.Json.Nodes;
using DistTrainer.Cli.Commands;
using DistTrainer.Cli.ModelFiles;
using DistTrainer.Numerics.Data;
using DistTrainer.Numerics.Models;
using DistTrainer.Numerics.Training;

namespace DistTrainer.Cli.Run;

/// <summary>Where a run writes and how often: metrics rows every <see cref="LogEvery"/> steps, checkpoints every <see cref="CheckpointEvery"/> (0 = epoch ends only).</summary>
public sealed record RunSettings(string Directory, int LogEvery, int CheckpointEvery)
{
    /// <summary>Stops the run right after this global step, as a crash would; tests use it to exercise resume.</summary>
    internal long? StopAfterStep { get; init; }
}

/// <summary>What a finished (or deliberately stopped) run produced.</summary>
public sealed record RunResult(JsonObject? Summary, EpochReport? LastReport, TrainedModel Model, bool Stopped);

/// <summary>
/// The single-process training loop with everything around it: progress, metrics.csv, checkpoints, curves.png,
/// summary.json and model.dtm in the run directory. Walks each epoch's seeded order itself (the same batches as
/// <see cref="Trainer.TrainEpoch"/>) so it can checkpoint and resume mid-epoch at a sample cursor.
/// </summary>
public static class TrainingRun
{
    public const string ModelFileName = "model.dtm";
    public const string SummaryFileName = "summary.json";
    public const string CurvesFileName = "curves.png";
    private static readonly TimeSpan CurvesRefresh = TimeSpan.FromSeconds(10);

    public static RunResult Execute(
        TrainJob job, PreparedData data, TrainingOptions training, RunSettings settings, IProgressView progress, Checkpoint? resume = null,
        float[]? initialWeights = null)
    {
        var clock = Stopwatch.StartNew();
        var dir = settings.Directory;
        var spec = job.CreateSpec(data);
        var model = new Mlp(spec);
        var trainer = new Trainer(model, data.Train, training, resume?.Model.Weights ?? initialWeights);
        if (resume is not null)
        {
            trainer.Optimizer.ImportState(resume.OptimizerState);
            trainer.RestoreStep(resume.Step);
        }
        var dataHash = resume?.DataHash ?? Checkpoint.HashData(data.Train, data.Test);
        var options = job.CanonicalOptions();
        var history = resume?.History.ToList() ?? [];
        var reports = history.Select((h, i) => Placeholder(i + 1, h)).ToList();
        var trainSeconds = resume?.TrainSeconds ?? 0;
        var wallBefore = resume?.WallSeconds ?? 0;
        var learningRate = (double)training.Optimizer.LearningRate;
        var regression = data.Train.Task == TaskKind.Regression;
        var metricName = regression ? "RMSE" : "accuracy";
        var n = data.Train.Count;
        var batch = training.BatchSize;
        var stepsPerEpoch = (n + batch - 1) / batch;
        var totalSteps = (long)stepsPerEpoch * training.Epochs;
        var sessionStartStep = trainer.Step;
        var sessionTrainSeconds = 0.0;

        using var metrics = MetricsCsv.Open(Path.Combine(dir, MetricsCsv.FileName), resume?.Step);
        double Wall() => wallBefore + clock.Elapsed.TotalSeconds;

        Checkpoint Snapshot(int epoch, int cursor, double lossSum, double epochSeconds) => new()
        {
            Model = TrainedModel.FromTraining(data, model, trainer.Weights).ToContent(),
            Optimizer = training.Optimizer.Kind.ToString().ToLowerInvariant(),
            OptimizerState = trainer.Optimizer.ExportState(),
            Epoch = epoch,
            Cursor = cursor,
            Step = trainer.Step,
            EpochLossSum = lossSum,
            EpochSeconds = epochSeconds,
            Epochs = training.Epochs,
            Options = options,
            DataHash = dataHash,
            TrainSeconds = trainSeconds,
            WallSeconds = Wall(),
            History = [.. history],
        };
        var checkpointPath = Path.Combine(dir, Checkpoint.FileName);

        var curvesClock = Stopwatch.StartNew();
        var window = new StepWindow(data.Train.Task, data.TargetScaling, learningRate);
        for (var epoch = resume?.Epoch ?? 0; epoch < training.Epochs; epoch++)
        {
            var resumedHere = resume is not null && epoch == resume.Epoch;
            var cursor = resumedHere ? resume!.Cursor : 0;
            var lossSum = resumedHere ? resume!.EpochLossSum : 0;
            var epochSeconds = resumedHere ? resume!.EpochSeconds : 0;
            var order = EpochOrder.Create(training.Seed, epoch, n);
            long epochCorrect = 0; // the running accuracy shown restarts with the session: checkpoints do not hold it
            var sessionCursor = cursor;
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
                epochCorrect += trainer.LastCorrect;
                window.Add(loss, trainer.LastCorrect, rows.Length, seconds);

                var sessionSteps = trainer.Step - sessionStartStep;
                var eta = TimeSpan.FromSeconds(sessionTrainSeconds / Math.Max(1, sessionSteps) * Math.Max(0, totalSteps - trainer.Step));
                progress.Step(new StepProgress(epoch + 1, training.Epochs, (cursor + batch - 1) / batch, stepsPerEpoch,
                    lossSum / cursor, regression ? null : (double)epochCorrect / Math.Max(1, cursor - sessionCursor), epochSeconds > 0 ? cursor / epochSeconds : 0, eta));

                if (settings.LogEvery > 0 && trainer.Step % settings.LogEvery == 0)
                {
                    var row = window.Close(epoch + 1, training.Epochs, trainer.Step, totalSteps, Wall(), eta);
                    metrics.Step(row);
                    progress.StepLogged(row, []);
                }
                if (settings.CheckpointEvery > 0 && trainer.Step % settings.CheckpointEvery == 0 && cursor < n)
                {
                    Snapshot(epoch, cursor, lossSum, epochSeconds).Save(checkpointPath);
                }
                if (trainer.Step == settings.StopAfterStep)
                {
                    return new RunResult(null, null, TrainedModel.FromTraining(data, model, trainer.Weights), Stopped: true);
                }
            }

            var report = EpochReport.Create(epoch + 1, lossSum / n, n, epochSeconds, model, trainer.Weights, data, training.Threads);
            reports.Add(report);
            history.Add(new EpochRecord { TrainLoss = report.TrainLoss, Samples = n, Seconds = epochSeconds });
            metrics.Epoch(trainer.Step, learningRate, Wall(), report);
            progress.EpochDone(report, training.Epochs);
            Snapshot(epoch + 1, 0, 0, 0).Save(checkpointPath);
            // Rendering costs far more than a small dataset's epoch: refresh the plot of a running job now and then; the
            // final one is drawn after the loop.
            if (curvesClock.Elapsed >= CurvesRefresh)
            {
                CurvesPlot.Save(Path.Combine(dir, CurvesFileName), MetricsCsv.ReadCurve(Path.Combine(dir, MetricsCsv.FileName), regression), metricName);
                curvesClock.Restart();
            }
        }

        if (reports.Count > 0 && double.IsNaN(reports[^1].Test.Loss))
        {
            // Resumed at the very end: re-evaluate the final weights, which equal those the last epoch was evaluated on.
            var last = history[^1];
            reports[^1] = EpochReport.Create(reports.Count, last.TrainLoss, last.Samples, last.Seconds, model, trainer.Weights, data, training.Threads);
        }
        metrics.Dispose();
        return Finish(dir, data, model, training, reports, trainer.Weights, trainSeconds, Wall());
    }

    /// <summary>
    /// Writes the end-of-run files: model.dtm, curves.png and summary.json. <paramref name="lastEpochRowTo"/> is the open
    /// metrics.csv of a run that wrote every row but the last epoch's (the actor simulation, whose epochs carry no train
    /// evaluation): that row is written here with the final train evaluation, and the file closed.
    /// </summary>
    public static RunResult Finish(string dir, PreparedData data, Mlp model, TrainingOptions training, IReadOnlyList<EpochReport> reports,
        float[] weights, double trainSeconds, double wallSeconds, IMetricsCsv? lastEpochRowTo = null)
    {
        var all = reports.ToList();
        if (all[^1].Train is null)
        {
            all[^1] = all[^1] with { Train = Evaluator.Evaluate(model, weights, data.Train, data.TargetScaling, training.Threads) };
        }
        var metricsPath = Path.Combine(dir, MetricsCsv.FileName);
        if (lastEpochRowTo is not null)
        {
            var stepsPerEpoch = (data.Train.Count + training.BatchSize - 1) / training.BatchSize;
            lastEpochRowTo.Epoch((long)all[^1].Epoch * stepsPerEpoch, training.Optimizer.LearningRate, wallSeconds, all[^1]);
            lastEpochRowTo.Dispose();
        }
        var regression = data.Train.Task == TaskKind.Regression;
        CurvesPlot.Save(Path.Combine(dir, CurvesFileName), MetricsCsv.ReadCurve(metricsPath, regression), regression ? "RMSE" : "accuracy");
        var trained = TrainedModel.FromTraining(data, model, weights);
        trained.Save(Path.Combine(dir, ModelFileName));
        var summary = Summary.Create(data, model, training, all, trainSeconds, wallSeconds);
        WriteSummary(dir, summary);
        return new RunResult(summary, all[^1], trained, Stopped: false);
    }

    public static void WriteSummary(string dir, JsonObject summary) =>
        AtomicFile.Write(Path.Combine(dir, SummaryFileName), System.Text.Encoding.UTF8.GetBytes(summary.ToJsonString() + "\n"));

    /// <summary>An epoch finished before a resume: its loss and timing are known, its evaluations are not kept.</summary>
    internal static EpochReport Placeholder(int epoch, EpochRecord record)
    {
        var unknown = new Evaluation(double.NaN, double.NaN, double.NaN, double.NaN, null);
        return new EpochReport(epoch, record.TrainLoss, record.Samples, record.Seconds, unknown, unknown);
    }
}
