using DistTrainer.Numerics.Data;
using DistTrainer.Numerics.Training;

namespace DistTrainer.Cli.Run;

/// <summary>
/// One metrics.csv step row and plain "step" line: the window of steps since the previous row. Loss is the mean
/// training loss per sample; <see cref="Accuracy"/> (classification) or <see cref="Rmse"/> (regression, in the target's
/// units) come from the same forward passes, with the weights each step started from.
/// </summary>
public readonly record struct StepRow(
    int Epoch, int Epochs, long Step, long TotalSteps, double Loss, double? Accuracy, double? Rmse, double LearningRate,
    double SamplesPerSecond, double WallSeconds, TimeSpan Eta);

/// <summary>What a step row reports besides the loss: accuracy (classification), RMSE (regression) or nothing (an RBM).</summary>
public enum StepMetric
{
    Accuracy,
    Rmse,
    LossOnly,
}

/// <summary>
/// Sums a window of steps (loss, correct rows, samples, training seconds) and closes it into a <see cref="StepRow"/>.
/// Time between epochs (evaluation) is not training time, so samples/s matches the epoch lines'.
/// </summary>
public sealed class StepWindow(StepMetric metric, double targetScale, double learningRate)
{
    private double _loss;
    private long _correct;
    private long _samples;
    private double _seconds;

    public StepWindow(TaskKind task, TargetScaling targetScaling, double learningRate)
        : this(task == TaskKind.Regression ? StepMetric.Rmse : StepMetric.Accuracy, targetScaling.Scale, learningRate)
    {
    }

    public StepMetric Metric => metric;

    public void Add(double lossSum, long correct, long samples, double seconds)
    {
        _loss += lossSum;
        _correct += correct;
        _samples += samples;
        _seconds += seconds;
    }

    /// <summary>The row for the window so far, then starts the next window.</summary>
    public StepRow Close(int epoch, int epochs, long step, long totalSteps, double wallSeconds, TimeSpan eta)
    {
        var samples = Math.Max(1, _samples);
        var meanLoss = _loss / samples;
        var row = new StepRow(epoch, epochs, step, totalSteps, meanLoss,
            metric == StepMetric.Accuracy ? (double)_correct / samples : null,
            metric == StepMetric.Rmse ? Math.Sqrt(meanLoss) * targetScale : null, // the loss is the squared error of standardized targets
            learningRate, _seconds > 0 ? _samples / _seconds : 0, wallSeconds, eta);
        (_loss, _correct, _samples, _seconds) = (0, 0, 0, 0);
        return row;
    }
}
