namespace DistTrainer.Numerics.Data;

/// <summary>A per-column affine map fitted on a training split: x' = (x - Offset) / Scale.</summary>
public interface IFeatureScaler
{
    int FeatureCount { get; }

    /// <summary>Scales one row into <paramref name="dest"/>; both spans hold <see cref="FeatureCount"/> values.</summary>
    void Transform(ReadOnlySpan<float> row, Span<float> dest);

    /// <summary>A copy of the dataset with scaled features; the original is unchanged.</summary>
    Dataset Apply(Dataset data);
}
