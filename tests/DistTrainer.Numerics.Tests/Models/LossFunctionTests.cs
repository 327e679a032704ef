using DistTrainer.Numerics.Models;

namespace DistTrainer.Numerics.Tests.Models;

/// <summary>
/// Each loss alone against a double-precision computation, and its dLoss/dOutput against central differences of that
/// double loss (h = 1e-5: truncation and rounding of the double difference are below 1e-9, so the 1e-5 tolerance only
/// has to absorb the float32 rounding of softmax and of the subtraction, a few ulps of values of order one).
/// </summary>
public class LossFunctionTests
{
    private const double Step = 1e-5;

    [Fact]
    public void Softmax_cross_entropy_should_match_a_double_computation_and_its_finite_differences()
    {
        const int classes = 4;
        const int rows = 5;
        var rng = SeededRandom.For(3, 1);
        var logits = Enumerable.Range(0, rows * classes).Select(_ => 6 * rng.NextFloat() - 3).ToArray();
        float[] labels = [0, 3, 1, 2, 3];
        var d = new float[rows * classes];

        var loss = LossFunctions.SoftmaxCrossEntropy(logits, labels, classes, d);

        var z = logits.Select(x => (double)x).ToArray();
        Assert.Equal(CrossEntropy(z, labels, classes), loss, 1e-5);
        for (var i = 0; i < z.Length; i++)
        {
            var saved = z[i];
            z[i] = saved + Step;
            var plus = CrossEntropy(z, labels, classes);
            z[i] = saved - Step;
            var minus = CrossEntropy(z, labels, classes);
            z[i] = saved;
            Assert.Equal((plus - minus) / (2 * Step), d[i], 1e-5);
        }
    }

    [Fact]
    public void Softmax_cross_entropy_should_count_the_rows_whose_highest_logit_is_the_label()
    {
        // Row by row: right (2 is highest), wrong (0 beats the label 1), right, a tie of 0 and 2 that counts as class 0
        // (the first maximum, as the evaluator's ArgMax) so label 2 is wrong, and label 0 of the same tie is right.
        float[] logits = [0.1f, 0.2f, 0.9f, 2f, 1f, -1f, -3f, -2f, -1f, 0.5f, 0.1f, 0.5f, 0.5f, 0.1f, 0.5f];
        float[] labels = [2, 1, 2, 2, 0];

        LossFunctions.SoftmaxCrossEntropy(logits, labels, 3, new float[logits.Length], out var correct);

        Assert.Equal(3, correct);
    }

    [Fact]
    public void Softmax_cross_entropy_should_stay_finite_for_huge_logits()
    {
        float[] logits = [1000f, -1000f, 0f, -1000f, 1000f, 999f];
        float[] labels = [1, 1];
        var d = new float[logits.Length];

        var loss = LossFunctions.SoftmaxCrossEntropy(logits, labels, 3, d);

        // Row 0: log(e^1000 + e^-1000 + 1) + 1000 = 2000 in any precision. Row 1: log(1 + e^-1) ≈ 0.31326.
        Assert.True(double.IsFinite(loss));
        Assert.Equal(2000 + Math.Log(1 + Math.Exp(-1)), loss, 1e-3);
        Assert.All(d, v => Assert.True(float.IsFinite(v)));
        Assert.Equal(1f, d[0], 1e-6f);
        Assert.Equal(-1f, d[1], 1e-6f);
        Assert.Equal(0f, d[3]);
        Assert.Equal(-1 / (1 + Math.E), d[4], 1e-6);
        Assert.Equal(1 / (1 + Math.E), d[5], 1e-6);
    }

    [Fact]
    public void Softmax_cross_entropy_should_be_near_zero_for_a_confident_correct_prediction()
    {
        float[] logits = [-1000f, 1000f];
        var d = new float[2];

        var loss = LossFunctions.SoftmaxCrossEntropy(logits, [1f], 2, d);

        Assert.Equal(0, loss, 1e-12);
        Assert.Equal([0f, 0f], d);
    }

    [Fact]
    public void Squared_error_should_match_a_double_computation_and_its_finite_differences()
    {
        float[] predictions = [0.5f, -1.25f, 3f, 0f, 2.75f, -0.125f, 1f];
        float[] targets = [1f, -1f, 2.5f, 0.25f, -3f, 0f, 1f];
        var d = new float[predictions.Length];

        var loss = LossFunctions.SquaredError(predictions, targets, d);

        var p = predictions.Select(x => (double)x).ToArray();
        Assert.Equal(SquaredError(p, targets), loss, 1e-9);
        for (var i = 0; i < p.Length; i++)
        {
            var saved = p[i];
            p[i] = saved + Step;
            var plus = SquaredError(p, targets);
            p[i] = saved - Step;
            var minus = SquaredError(p, targets);
            p[i] = saved;
            Assert.Equal((plus - minus) / (2 * Step), d[i], 1e-5);
        }
    }

    private static double CrossEntropy(double[] z, float[] labels, int classes)
    {
        double loss = 0;
        for (var r = 0; r < labels.Length; r++)
        {
            var row = z.AsSpan(r * classes, classes);
            var max = row.ToArray().Max();
            var sum = row.ToArray().Sum(v => Math.Exp(v - max));
            loss += max + Math.Log(sum) - row[(int)labels[r]];
        }
        return loss;
    }

    private static double SquaredError(double[] p, float[] targets) => p.Select((v, i) => (v - targets[i]) * (v - targets[i])).Sum();
}
