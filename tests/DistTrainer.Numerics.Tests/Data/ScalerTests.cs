using DistTrainer.Numerics.Data;

namespace DistTrainer.Numerics.Tests.Data;

public class ScalerTests
{
    // Columns: varying, constant 7, varying with a large offset.
    private static Dataset Table(params float[][] rows) =>
        new("t", ["a", "b", "c"], "y", TaskKind.Regression, 0, [.. rows.SelectMany(r => r)], new float[rows.Length]);

    private static readonly Dataset _train = Table([1, 7, 1000], [3, 7, 1002], [5, 7, 1004], [7, 7, 1006]);

    [Fact]
    public void Standardizer_should_give_train_columns_zero_mean_and_unit_variance()
    {
        var scaler = Standardizer.Fit(_train);
        Assert.Equal([4f, 7f, 1003f], scaler.Mean);
        var scaled = scaler.Apply(_train);
        for (var c = 0; c < 3; c += 2)
        {
            var column = Enumerable.Range(0, _train.Count).Select(r => (double)scaled.Row(r)[c]).ToArray();
            Assert.Equal(0, column.Average(), 5);
            Assert.Equal(1, Math.Sqrt(column.Select(v => v * v).Average()), 5);
        }
    }

    [Fact]
    public void Standardizer_should_map_a_zero_variance_column_to_zero_with_scale_one()
    {
        var scaler = Standardizer.Fit(_train);
        Assert.Equal(1f, scaler.Scale[1]);
        var scaled = scaler.Apply(_train);
        Assert.All(Enumerable.Range(0, _train.Count), r => Assert.Equal(0f, scaled.Row(r)[1]));
        Assert.All(scaled.Features, v => Assert.True(float.IsFinite(v)));
    }

    [Fact]
    public void Standardizer_should_use_train_statistics_only_and_leave_its_input_unchanged()
    {
        var scaler = Standardizer.Fit(_train);
        var test = Table([4, 9, 1003]);
        var before = test.Features.ToArray();
        var scaled = scaler.Apply(test);
        Assert.Equal(before, test.Features);
        // Column b: constant 7 in train, so a test value of 9 maps to (9 - 7) / 1.
        Assert.Equal([0f, 2f, 0f], scaled.Features);
        Assert.NotSame(test.Features, scaled.Features);
    }

    [Fact]
    public void Standardizer_should_transform_a_row_like_apply_and_rebuild_from_saved_arrays()
    {
        var fitted = Standardizer.Fit(_train);
        var restored = new Standardizer(fitted.Mean.ToArray(), fitted.Scale.ToArray());
        var dest = new float[3];
        restored.Transform(_train.Row(2), dest);
        Assert.Equal(fitted.Apply(_train).Row(2).ToArray(), dest);
    }

    [Fact]
    public void Standardizer_should_reject_saved_arrays_with_a_zero_scale_or_mismatched_lengths()
    {
        Assert.Throws<ArgumentException>(() => new Standardizer([0f, 0f], [1f, 0f]));
        Assert.Throws<ArgumentException>(() => new Standardizer([0f, 0f], [1f]));
        Assert.Throws<ArgumentException>(() => new Standardizer([float.NaN], [1f]));
    }

    [Fact]
    public void Standardizer_should_keep_every_digits_column_finite_with_three_constant_columns()
    {
        var (train, test) = DataSplit.Fixed(CsvDataset.Load(TestData.Shared("digits.csv")));
        var scaler = Standardizer.Fit(train);
        foreach (var constant in new[] { "pixel_0_0", "pixel_4_0", "pixel_4_7" })
        {
            var c = Array.IndexOf(train.FeatureNames, constant);
            Assert.Equal((0f, 1f), (scaler.Mean[c], scaler.Scale[c]));
        }
        Assert.All(scaler.Apply(test).Features, v => Assert.True(float.IsFinite(v)));
    }

    [Fact]
    public void MinMaxScaler_should_map_train_columns_to_the_unit_interval_and_constants_to_zero()
    {
        var scaler = MinMaxScaler.Fit(_train);
        Assert.Equal([1f, 7f, 1000f], scaler.Min);
        Assert.Equal([6f, 1f, 6f], scaler.Scale);
        var scaled = scaler.Apply(_train);
        Assert.Equal([0f, 0f, 0f], scaled.Row(0).ToArray());
        Assert.Equal([1f, 0f, 1f], scaled.Row(3).ToArray());
    }

    [Fact]
    public void MinMaxScaler_should_clip_values_outside_the_training_range()
    {
        var scaler = MinMaxScaler.Fit(_train);
        var dest = new float[3];
        scaler.Transform([-5f, 100f, 1003f], dest);
        Assert.Equal([0f, 1f, 0.5f], dest);
        var restored = new MinMaxScaler(scaler.Min, scaler.Scale);
        restored.Transform([13f, 7f, 1000f], dest);
        Assert.Equal([1f, 0f, 0f], dest);
    }
}
