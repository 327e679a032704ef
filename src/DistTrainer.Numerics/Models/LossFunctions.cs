using System.Numerics.Tensors;

namespace DistTrainer.Numerics.Models;

/// <summary>Losses summed over the rows of a batch, each writing dLoss/dOutput per row (not divided by the batch size).</summary>
public static class LossFunctions
{
    /// <summary>
    /// Softmax + cross-entropy on logits (rows × classes): loss_r = logΣexp(z) − z_y, computed with the max subtracted,
    /// and dz = softmax(z) − onehot(y).
    /// </summary>
    public static double SoftmaxCrossEntropy(ReadOnlySpan<float> logits, ReadOnlySpan<float> labels, int classes, Span<float> dLogits) =>
        SoftmaxCrossEntropy(logits, labels, classes, dLogits, out _);

    /// <summary>
    /// As above, and counts the rows whose highest logit (the first one on a tie, as <c>Evaluator.ArgMax</c>) is the
    /// label: the training accuracy of the batch at no extra allocation.
    /// </summary>
    public static double SoftmaxCrossEntropy(ReadOnlySpan<float> logits, ReadOnlySpan<float> labels, int classes, Span<float> dLogits, out int correct)
    {
        double loss = 0;
        correct = 0;
        for (var r = 0; r < labels.Length; r++)
        {
            var z = logits.Slice(r * classes, classes);
            var d = dLogits.Slice(r * classes, classes);
            var label = (int)labels[r];
            var max = TensorPrimitives.Max(z);
            if (TensorPrimitives.IndexOfMax(z) == label)
            {
                correct++;
            }
            TensorPrimitives.Subtract(z, max, d);
            TensorPrimitives.Exp(d, d);
            var sum = TensorPrimitives.Sum(d);
            loss += Math.Log(sum) - (z[label] - max);
            TensorPrimitives.Multiply(d, 1f / sum, d);
            d[label] -= 1f;
        }
        return loss;
    }

    /// <summary>Squared error of a single-output regression: loss_r = (ŷ_r − y_r)², dŷ_r = 2(ŷ_r − y_r).</summary>
    public static double SquaredError(ReadOnlySpan<float> predictions, ReadOnlySpan<float> targets, Span<float> dPredictions)
    {
        var rows = targets.Length;
        var d = dPredictions[..rows];
        TensorPrimitives.Subtract(predictions[..rows], targets, d);
        double loss = TensorPrimitives.Dot(d, d);
        TensorPrimitives.Multiply(d, 2f, d);
        return loss;
    }
}
