namespace DistTrainer.Numerics.Data;

/// <summary>
/// Maps each column to [0, 1] using the minimum and range of the training split only, as a Bernoulli RBM expects
/// inputs that are probabilities. Values outside the training range are clipped to [0, 1]; a column that is constant
/// in training gets scale 1, so it maps to 0.
/// </summary>
public sealed class MinMaxScaler : IFeatureScaler
{
    private readonly float[] _inverseScale;

    /// <summary>Rebuilds a fitted scaler, e.g. from a model file.</summary>
    public MinMaxScaler(float[] min, float[] scale)
    {
        Min = min;
        Scale = scale;
        _inverseScale = ScalerMath.Validate(min, scale, nameof(min), nameof(scale));
    }

    /// <summary>Per-column minimum of the training data.</summary>
    public float[] Min { get; }

    /// <summary>Per-column range (max - min) of the training data, or 1 for a constant column.</summary>
    public float[] Scale { get; }

    public int FeatureCount => Min.Length;

    public static MinMaxScaler Fit(Dataset train)
    {
        var columns = train.FeatureCount;
        var min = new float[columns];
        var max = new float[columns];
        if (train.Count > 0)
        {
            train.Row(0).CopyTo(min);
            train.Row(0).CopyTo(max);
        }
        for (var r = 1; r < train.Count; r++)
        {
            var row = train.Row(r);
            for (var c = 0; c < columns; c++)
            {
                min[c] = Math.Min(min[c], row[c]);
                max[c] = Math.Max(max[c], row[c]);
            }
        }
        var scale = new float[columns];
        for (var c = 0; c < columns; c++)
        {
            var range = (double)max[c] - min[c];
            scale[c] = ScalerMath.IsNegligible(range, min[c]) ? 1f : (float)range;
        }
        return new MinMaxScaler(min, scale);
    }

    public void Transform(ReadOnlySpan<float> row, Span<float> dest)
    {
        ScalerMath.Transform(row, dest, Min, _inverseScale);
        System.Numerics.Tensors.TensorPrimitives.Clamp(dest, 0f, 1f, dest);
    }

    public Dataset Apply(Dataset data) => ScalerMath.Apply(data, Min, _inverseScale, clip: true);
}
