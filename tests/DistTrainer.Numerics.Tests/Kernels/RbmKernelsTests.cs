using System.Runtime.Intrinsics;
using DistTrainer.Numerics.Kernels;

namespace DistTrainer.Numerics.Tests.Kernels;

public class RbmKernelsTests
{
    [Fact]
    public void AddBiasSigmoid_should_match_reference_for_all_row_widths_and_extreme_inputs()
    {
        var random = new Random(7);
        for (var width = 1; width <= 3 * 8 + 1; width++)
        {
            foreach (var rows in new[] { 1, 3 })
            {
                // Every seventh input far outside exp's range, to exercise the clamp.
                var values = Enumerable.Range(0, rows * width)
                    .Select(i => i % 7 == 3 ? (i % 2 == 0 ? 120f : -120f) : 16 * (random.NextSingle() - 0.5f)).ToArray();
                var bias = Enumerable.Range(0, width).Select(_ => random.NextSingle() - 0.5f).ToArray();
                var expected = (float[])values.Clone();
                RbmKernels.AddBiasSigmoidReference(expected, bias);
                RbmKernels.AddBiasSigmoid(values, bias);
                for (var i = 0; i < values.Length; i++)
                {
                    Assert.InRange(values[i], 0f, 1f);
                    Assert.Equal(expected[i], values[i], 1e-6f);
                }
            }
        }
    }

    [Fact]
    public void AddBiasSigmoid_should_give_a_row_the_same_values_alone_and_among_other_rows()
    {
        var random = new Random(8);
        const int width = 13;
        var rows = Enumerable.Range(0, 3 * width).Select(_ => 8 * (random.NextSingle() - 0.5f)).ToArray();
        var bias = Enumerable.Range(0, width).Select(_ => random.NextSingle() - 0.5f).ToArray();
        var alone = rows.AsSpan(width, width).ToArray();
        RbmKernels.AddBiasSigmoid(rows, bias);
        RbmKernels.AddBiasSigmoid(alone, bias);
        Assert.Equal(alone, rows.AsSpan(width, width).ToArray());
    }

    [Fact]
    public void AddBiasSigmoid_should_refuse_values_that_are_not_whole_rows() =>
        Assert.Throws<ArgumentException>(() => RbmKernels.AddBiasSigmoid(new float[10], new float[3]));

    [Fact]
    public void Exp_should_stay_within_a_few_units_in_the_last_place_over_its_range()
    {
        if (!Vector256.IsHardwareAccelerated)
        {
            return;
        }
        var worst = 0.0;
        for (var x = -87f; x <= 88f; x += 0.0137f)
        {
            var actual = RbmKernels.Exp(Vector256.Create(x)).GetElement(3);
            worst = Math.Max(worst, Math.Abs(actual / Math.Exp(x) - 1));
        }
        Assert.InRange(worst, 0, 3e-7);
        Assert.Equal(Math.Exp(88), RbmKernels.Exp(Vector256.Create(1000f)).GetElement(0), 1e32);
        Assert.Equal(0, RbmKernels.Exp(Vector256.Create(-1000f)).GetElement(0), 1e-37);
    }

    [Fact]
    public void AccumulateRowDifferences_should_match_reference_for_all_tail_lengths()
    {
        var random = new Random(9);
        for (var width = 1; width <= 3 * 8 + 1; width++)
        {
            var plus = Enumerable.Range(0, 4 * width).Select(_ => random.NextSingle()).ToArray();
            var minus = Enumerable.Range(0, 4 * width).Select(_ => random.NextSingle()).ToArray();
            var sum = Enumerable.Range(0, width).Select(_ => random.NextSingle() - 0.5f).ToArray();
            var expected = (float[])sum.Clone();
            RbmKernels.AccumulateRowDifferencesReference(plus, minus, expected);
            RbmKernels.AccumulateRowDifferences(plus, minus, sum);
            Assert.Equal(expected, sum);
        }
    }

    [Fact]
    public void SquaredDistance_should_match_reference_for_all_tail_lengths()
    {
        var random = new Random(10);
        for (var length = 0; length <= 3 * 8 + 1; length++)
        {
            var x = Enumerable.Range(0, length).Select(_ => random.NextSingle()).ToArray();
            var y = Enumerable.Range(0, length).Select(_ => random.NextSingle()).ToArray();
            var expected = RbmKernels.SquaredDistanceReference(x, y);
            Assert.Equal(expected, RbmKernels.SquaredDistance(x, y), 1e-5 * Math.Max(1, expected));
        }
        Assert.Throws<ArgumentException>(() => RbmKernels.SquaredDistance(new float[2], new float[3]));
    }
}
