using System.Numerics.Tensors;

namespace DistTrainer.Numerics.Data;

/// <summary>
/// Maps each column to zero mean and unit variance using statistics of the training split only. A column that is
/// constant in training gets scale 1, so it maps to 0 and nothing is divided by zero.
/// </summary>
public sealed class Standardizer : IFeatureScaler
{
    private readonly float[] _inverseScale;

    /// <summary>Rebuilds a fitted standardizer, e.g. from a model file.</summary>
    public Standardizer(float[] mean, float[] scale)
    {
        Mean = mean;
        Scale = scale;
        _inverseScale = ScalerMath.Validate(mean, scale, nameof(mean), nameof(scale));
    }

    /// <summary>Per-column mean of the training data.</summary>
    public float[] Mean { get; }

    /// <summary>Per-column population standard deviation of the training data, or 1 for a constant column.</summary>
    public float[] Scale { get; }

    public int FeatureCount => Mean.Length;

    public static Standardizer Fit(Dataset train)
    {
        var columns = train.FeatureCount;
        var sum = new double[columns];
        for (var r = 0; r < train.Count; r++)
        {
            var row = train.Row(r);
            for (var c = 0; c < columns; c++)
            {
                sum[c] += row[c];
            }
        }
        var mean = new double[columns];
        for (var c = 0; c < columns; c++)
        {
            mean[c] = train.Count == 0 ? 0 : sum[c] / train.Count;
        }

        // Second pass over deviations: exact zero for a constant column, unlike E[x²] - E[x]².
        var squares = new double[columns];
        for (var r = 0; r < train.Count; r++)
        {
            var row = train.Row(r);
            for (var c = 0; c < columns; c++)
            {
                var d = row[c] - mean[c];
                squares[c] += d * d;
            }
        }

        var meanOut = new float[columns];
        var scaleOut = new float[columns];
        for (var c = 0; c < columns; c++)
        {
            var std = train.Count == 0 ? 0 : Math.Sqrt(squares[c] / train.Count);
            meanOut[c] = (float)mean[c];
            scaleOut[c] = ScalerMath.IsNegligible(std, mean[c]) ? 1f : (float)std;
        }
        return new Standardizer(meanOut, scaleOut);
    }

    public void Transform(ReadOnlySpan<float> row, Span<float> dest) => ScalerMath.Transform(row, dest, Mean, _inverseScale);

    public Dataset Apply(Dataset data) => ScalerMath.Apply(data, Mean, _inverseScale, clip: false);
}

/// <summary>Shared checks and loops of the feature scalers.</summary>
internal static class ScalerMath
{
    /// <summary>A spread this small next to the values is rounding noise, not signal.</summary>
    public static bool IsNegligible(double spread, double magnitude) =>
        !(spread > 1e-7 * Math.Max(1.0, Math.Abs(magnitude)));

    /// <summary>Checks saved arrays and returns 1/scale, so transforming multiplies instead of divides.</summary>
    public static float[] Validate(float[] offset, float[] scale, string offsetName, string scaleName)
    {
        if (offset.Length == 0)
        {
            throw new ArgumentException("A scaler needs at least one column.", offsetName);
        }
        if (offset.Length != scale.Length)
        {
            throw new ArgumentException($"{offsetName} has {offset.Length} columns but {scaleName} has {scale.Length}.", scaleName);
        }
        var inverse = new float[scale.Length];
        for (var c = 0; c < scale.Length; c++)
        {
            if (!float.IsFinite(offset[c]))
            {
                throw new ArgumentException($"{offsetName}[{c}] is {offset[c]}; expected a finite number.", offsetName);
            }
            if (!(scale[c] > 0) || !float.IsFinite(scale[c]))
            {
                throw new ArgumentException($"{scaleName}[{c}] is {scale[c]}; expected a finite number > 0.", scaleName);
            }
            inverse[c] = 1f / scale[c];
        }
        return inverse;
    }

    public static void Transform(ReadOnlySpan<float> row, Span<float> dest, float[] offset, float[] inverseScale)
    {
        if (row.Length != offset.Length || dest.Length != offset.Length)
        {
            throw new ArgumentException($"Expected rows of {offset.Length} features, got {row.Length} in and {dest.Length} out.", nameof(row));
        }
        TensorPrimitives.Subtract(row, offset, dest);
        TensorPrimitives.Multiply(dest, inverseScale, dest);
    }

    public static Dataset Apply(Dataset data, float[] offset, float[] inverseScale, bool clip)
    {
        if (data.FeatureCount != offset.Length)
        {
            throw new ArgumentException($"The scaler was fitted on {offset.Length} features but {data.Name} has {data.FeatureCount}.", nameof(data));
        }
        var features = new float[data.Features.Length];
        for (var r = 0; r < data.Count; r++)
        {
            var dest = features.AsSpan(r * offset.Length, offset.Length);
            Transform(data.Row(r), dest, offset, inverseScale);
            if (clip)
            {
                TensorPrimitives.Clamp(dest, 0f, 1f, dest);
            }
        }
        return data.WithFeatures(features);
    }
}
