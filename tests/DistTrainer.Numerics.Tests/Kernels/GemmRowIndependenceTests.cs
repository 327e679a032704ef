using DistTrainer.Numerics.Kernels;

namespace DistTrainer.Numerics.Tests.Kernels;

/// <summary>
/// The RBM samples from probabilities computed row by row (NN for P(h|v), NT for P(v|h)); a batch split across workers
/// draws the same states only if each row's result is bit-identical however many rows share the call.
/// </summary>
public class GemmRowIndependenceTests
{
    [Theory]
    [InlineData(64, 100, 1)]
    [InlineData(784, 256, 1)]
    [InlineData(784, 256, 2)]
    public void Gemm_rows_should_not_depend_on_how_the_batch_is_split(int visible, int hidden, int threads)
    {
        var rng = SeededRandom.For(1, 2);
        const int rows = 37;
        var v = Enumerable.Range(0, rows * visible).Select(_ => rng.NextFloat()).ToArray();
        var w = Enumerable.Range(0, visible * hidden).Select(_ => rng.NextFloat() - 0.5f).ToArray();
        var pre = new float[rows * hidden];
        Gemm.MultiplyNN(rows, hidden, visible, v, w, pre, accumulate: false, threads);
        var h = pre.Select(x => x > 0 ? 1f : 0f).ToArray();
        var back = new float[rows * visible];
        Gemm.MultiplyNT(rows, visible, hidden, h, w, back, accumulate: false, threads);

        foreach (var (start, count) in new[] { (0, 1), (1, 5), (6, 13), (19, 18) })
        {
            var prePart = new float[count * hidden];
            Gemm.MultiplyNN(count, hidden, visible, v.AsSpan(start * visible, count * visible), w, prePart, accumulate: false, threads);
            Assert.True(prePart.AsSpan().SequenceEqual(pre.AsSpan(start * hidden, count * hidden)), $"NN rows {start}..{start + count}");
            var backPart = new float[count * visible];
            Gemm.MultiplyNT(count, visible, hidden, h.AsSpan(start * hidden, count * hidden), w, backPart, accumulate: false, threads);
            Assert.True(backPart.AsSpan().SequenceEqual(back.AsSpan(start * visible, count * visible)), $"NT rows {start}..{start + count}");
        }
    }
}
