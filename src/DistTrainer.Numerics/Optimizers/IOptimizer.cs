namespace DistTrainer.Numerics.Optimizers;

/// <summary>Updates a flat weight buffer from the averaged gradient of the same layout. One loop over the buffer; no allocation.</summary>
public interface IOptimizer
{
    /// <summary>w ← update(w, g). <paramref name="gradients"/> is the mean gradient over the global batch.</summary>
    void Step(Span<float> weights, ReadOnlySpan<float> gradients);

    /// <summary>The optimizer's state (moments, step count) as flat floats, for checkpoints. Empty for plain SGD.</summary>
    float[] ExportState();

    void ImportState(ReadOnlySpan<float> state);
}
