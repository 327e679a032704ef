using System.Globalization;
using System.Text.Json.Nodes;
using DistTrainer.Actors.Coordinator;
using DistTrainer.Numerics.Data;
using DistTrainer.Numerics.Models;
using DistTrainer.Numerics.Training;

namespace DistTrainer.Cli.Commands;

/// <summary>What one epoch did: training loss and throughput, then evaluation on the train and test splits.</summary>
/// <remarks>With workers, <see cref="Train"/> is not evaluated each epoch and <see cref="Workers"/> shows stragglers.</remarks>
public sealed record EpochReport(int Epoch, double TrainLoss, int Samples, double Seconds, Evaluation? Train, Evaluation Test)
{
    public IReadOnlyList<WorkerEpochStats> Workers { get; init; } = [];

    public double SamplesPerSecond => Seconds > 0 ? Samples / Seconds : 0;

    public static EpochReport Create(int epoch, double trainLoss, int samples, double seconds, Mlp model, float[] weights, PreparedData data, int threads) =>
        new(epoch, trainLoss, samples, seconds,
            Evaluator.Evaluate(model, weights, data.Train, data.TargetScaling, threads),
            Evaluator.Evaluate(model, weights, data.Test, data.TargetScaling, threads));

    public string Format(int epochs)
    {
        var width = epochs.ToString(CultureInfo.InvariantCulture).Length;
        var train = Train is null ? "" : Test.Accuracy is null ? $"train_rmse {Train.Rmse:F3}  " : $"train_acc {Train.Accuracy:F4}  ";
        var test = Test.Accuracy is { } testAccuracy ? $"test_acc {testAccuracy:F4}" : $"test_rmse {Test.Rmse:F3}  test_r2 {Test.R2:F4}";
        var workers = Workers.Count == 0 ? "" : "  step ms " + string.Join(' ', Workers.Select(w => w.Alive ? $"w{w.WorkerId}:{w.MeanStepMs:F1}" : $"w{w.WorkerId}:lost"));
        return string.Create(CultureInfo.InvariantCulture,
            $"epoch {Epoch.ToString(CultureInfo.InvariantCulture).PadLeft(width)}/{epochs}  loss {TrainLoss:F4}  {train}{test}  {SamplesPerSecond,10:N0} samples/s{workers}");
    }

    public string FinalText(double wallSeconds) => Test.Accuracy is { } accuracy
        ? string.Create(CultureInfo.InvariantCulture, $"done in {wallSeconds:F1}s: test accuracy {accuracy:F4}")
        : string.Create(CultureInfo.InvariantCulture, $"done in {wallSeconds:F1}s: test RMSE {Test.Rmse:F3}, R² {Test.R2:F4}");
}

/// <summary>The single-line JSON summary of a training run.</summary>
public static class Summary
{
    public static JsonObject Create(PreparedData data, IModel model, TrainingOptions training, IReadOnlyList<EpochReport> reports, double trainSeconds, double wallSeconds)
    {
        var last = reports[^1];
        var samples = reports.Sum(r => (long)r.Samples);
        var summary = new JsonObject
        {
            ["dataset"] = data.Name,
            ["task"] = data.Train.Task == TaskKind.Classification ? "classification" : "regression",
            ["model"] = model.Spec.ToString(),
            ["parameters"] = model.ParameterCount,
            ["epochs"] = reports.Count,
            ["batch"] = training.BatchSize,
            ["optimizer"] = training.Optimizer.Kind.ToString().ToLowerInvariant(),
            ["learning_rate"] = training.Optimizer.LearningRate,
            ["weight_decay"] = training.Optimizer.WeightDecay,
            ["seed"] = training.Seed,
            ["threads"] = training.Threads,
            ["train_samples"] = data.Train.Count,
            ["test_samples"] = data.Test.Count,
            ["final_train_loss"] = Number(last.TrainLoss),
        };
        if (data.Train.Task == TaskKind.Classification)
        {
            summary["train_accuracy"] = Number(last.Train?.Accuracy);
            summary["test_accuracy"] = Number(last.Test.Accuracy);
        }
        else
        {
            summary["train_rmse"] = Number(last.Train?.Rmse);
            summary["test_rmse"] = Number(last.Test.Rmse);
            summary["test_r2"] = Number(last.Test.R2);
        }
        summary["test_loss"] = Number(last.Test.Loss);
        summary["samples_per_second"] = Number(trainSeconds > 0 ? samples / trainSeconds : 0);
        summary["train_seconds"] = Number(trainSeconds);
        summary["wall_seconds"] = Number(wallSeconds);
        return summary;
    }

    /// <summary>JSON has no NaN or infinity: such values become null.</summary>
    public static JsonNode? Number(double? value) =>
        value is { } v && double.IsFinite(v) ? JsonValue.Create(Math.Round(v, 6)) : null;
}
