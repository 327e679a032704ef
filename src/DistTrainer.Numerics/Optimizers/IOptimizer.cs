namespace DistTrainer.Numerics.Optimizers;

/// <summary>Updates a flat weight buffer from the averaged gradient of the same layout. One loop over the buffer; no allocation.</summary>
public interface IOptimizer
{
    /// <summary>w ← update(w, g). <paramref name="gradients"/> is the mean gradient over the global batch.</summary>
    void Step(Span<float> weights, ReadOnlySpan<float> gradients);

    /// <summary>
    /// The parameter server's step in one pass over memory: w ← update(w, scale·(gradientSum + extraGradientSum)), and the
    /// new w is also written to <paramref name="weightsCopy"/> (the broadcast buffer). <paramref name="extraGradientSum"/>
    /// and <paramref name="weightsCopy"/> may be empty. Gives exactly the floats of adding, scaling and stepping in
    /// separate passes, which cost three more trips through a parameter-sized buffer.
    /// </summary>
    void Step(Span<float> weights, ReadOnlySpan<float> gradientSum, ReadOnlySpan<float> extraGradientSum, float scale, Span<float> weightsCopy);

    /// <summary>The optimizer's state (moments, step count) as flat floats, for checkpoints. Empty for plain SGD.</summary>
    float[] ExportState();

    void ImportState(ReadOnlySpan<float> state);
}
