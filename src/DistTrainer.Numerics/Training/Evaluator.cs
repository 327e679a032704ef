using DistTrainer.Numerics.Data;
using DistTrainer.Numerics.Models;

namespace DistTrainer.Numerics.Training;

/// <summary>
/// Quality of an MLP on a dataset. Classification: mean cross-entropy, accuracy and the confusion matrix
/// (rows = true class, columns = predicted). Regression: mean squared error on the scaled targets, and RMSE and R²
/// in the target's original units.
/// For an RBM, <see cref="Loss"/> is the test reconstruction error and <see cref="Rbm"/> holds all its metrics.
/// </summary>
public sealed record Evaluation(double Loss, double? Accuracy, double? Rmse, double? R2, int[][]? Confusion)
{
    /// <summary>An RBM's reconstruction error and pseudo-log-likelihood on train and test; null for an MLP.</summary>
    public RbmEpochMetrics? Rbm { get; init; }
}

public static class Evaluator
{
    private const int Chunk = 256;

    public static Evaluation Evaluate(Mlp model, ReadOnlySpan<float> weights, Dataset data, TargetScaling targetScaling, int threads = 1)
    {
        var workspace = model.CreateWorkspace(Math.Min(Chunk, Math.Max(1, data.Count)), threads);
        var classes = model.Spec.Outputs;
        var confusion = data.Task == TaskKind.Classification ? Enumerable.Range(0, classes).Select(_ => new int[classes]).ToArray() : null;
        double loss = 0, squaredError = 0;
        var correct = 0;
        for (var start = 0; start < data.Count; start += Chunk)
        {
            var count = Math.Min(Chunk, data.Count - start);
            var outputs = model.Predict(weights, data.Features.AsSpan(start * data.FeatureCount, count * data.FeatureCount), count, workspace);
            for (var r = 0; r < count; r++)
            {
                var target = data.Targets[start + r];
                if (confusion is not null)
                {
                    var probabilities = outputs.Slice(r * classes, classes);
                    var predicted = ArgMax(probabilities);
                    var label = (int)target;
                    confusion[label][predicted]++;
                    correct += predicted == label ? 1 : 0;
                    loss -= Math.Log(Math.Max(probabilities[label], 1e-30f));
                }
                else
                {
                    var error = (double)outputs[r] - target;
                    squaredError += error * error;
                }
            }
        }
        var n = Math.Max(1, data.Count);
        if (confusion is not null)
        {
            return new Evaluation(loss / n, (double)correct / n, null, null, confusion);
        }
        var mse = squaredError / n;
        return new Evaluation(mse, null, Math.Sqrt(mse) * targetScaling.Scale, RSquared(squaredError, data.Targets), null);
    }

    public static int ArgMax(ReadOnlySpan<float> values)
    {
        var best = 0;
        for (var i = 1; i < values.Length; i++)
        {
            if (values[i] > values[best])
            {
                best = i;
            }
        }
        return best;
    }

    /// <summary>R² = 1 − SS_res / SS_tot, with SS_tot around the evaluated data's own mean (scale-free).</summary>
    private static double RSquared(double residualSumOfSquares, float[] targets)
    {
        if (targets.Length == 0)
        {
            return double.NaN;
        }
        var mean = targets.Average(t => (double)t);
        var total = targets.Sum(t => (t - mean) * (t - mean));
        return total > 0 ? 1 - residualSumOfSquares / total : double.NaN;
    }
}

/// <summary>Regression targets are trained standardized: y' = (y − Mean) / Scale. Classification uses Identity.</summary>
public readonly record struct TargetScaling(float Mean, float Scale)
{
    public static TargetScaling Identity => new(0f, 1f);

    public static TargetScaling Fit(ReadOnlySpan<float> targets)
    {
        if (targets.Length == 0)
        {
            return Identity;
        }
        double sum = 0, sumSq = 0;
        foreach (var t in targets)
        {
            sum += t;
            sumSq += (double)t * t;
        }
        var mean = sum / targets.Length;
        var std = Math.Sqrt(Math.Max(0, sumSq / targets.Length - mean * mean));
        return new TargetScaling((float)mean, std > 0 ? (float)std : 1f);
    }

    public float[] Apply(ReadOnlySpan<float> targets)
    {
        var result = new float[targets.Length];
        for (var i = 0; i < targets.Length; i++)
        {
            result[i] = (targets[i] - Mean) / Scale;
        }
        return result;
    }

    public float Invert(float scaled) => scaled * Scale + Mean;
}
