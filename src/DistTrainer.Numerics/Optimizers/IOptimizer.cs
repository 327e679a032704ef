namespace DistTrainer.Numerics.Optimizers;

/// <summary>Updates a flat weight buffer from the averaged gradient of the same layout. One loop over the buffer; no allocation.</summary>
public interface IOptimizer
{
    /// <summary>w ← update(w, g), in place. <paramref name="gradients"/> is the mean gradient over the global batch.</summary>
    void Step(Span<float> weights, ReadOnlySpan<float> gradients);

    /// <summary>
    /// The parameter server's step in one pass over memory: <paramref name="newWeights"/> ← update(w, scale·(gradientSum +
    /// extraGradientSum)), also written to <paramref name="newWeightsCopy"/> when it is not empty (the buffer a remote
    /// broadcast is sent from). <paramref name="weights"/> is only read. The step counts only when every new weight and
    /// every new value of the optimizer's state is finite: then it returns true and keeps the new state. Otherwise it
    /// returns false and the state is as before, so a NaN or infinite gradient, or an update that overflows, is
    /// rejected by the same pass that applies it instead of by a separate pass over the gradient. Gives exactly the
    /// floats of adding, scaling and stepping in separate passes.
    /// </summary>
    bool TryStep(ReadOnlySpan<float> weights, ReadOnlySpan<float> gradientSum, ReadOnlySpan<float> extraGradientSum, float scale,
        Span<float> newWeights, Span<float> newWeightsCopy)
    {
        BeginStep();
        var finite = StepSlice(weights, gradientSum, extraGradientSum, scale, newWeights, newWeightsCopy, offset: 0);
        EndStep(finite);
        return finite;
    }

    /// <summary>
    /// <see cref="TryStep"/> in slices, for a caller that spreads the pass over threads (<see cref="SpreadStep"/>):
    /// <see cref="BeginStep"/>, then <see cref="StepSlice"/> once for each of disjoint slices that cover the buffer (in any
    /// order, on any threads), then <see cref="EndStep"/>, which keeps the new state only if every slice was finite.
    /// </summary>
    void BeginStep();

    /// <summary>
    /// One slice of the step: the spans are the slices of TryStep's buffers that start at element
    /// <paramref name="offset"/>. True when every new value in the slice is finite.
    /// </summary>
    bool StepSlice(ReadOnlySpan<float> weights, ReadOnlySpan<float> gradientSum, ReadOnlySpan<float> extraGradientSum, float scale,
        Span<float> newWeights, Span<float> newWeightsCopy, int offset);

    /// <summary>Ends the step: keeps the new optimizer state if <paramref name="keep"/>, else leaves it as before the step.</summary>
    void EndStep(bool keep);

    /// <summary>The optimizer's state (moments, step count) as flat floats, for checkpoints. Empty for plain SGD.</summary>
    float[] ExportState();

    void ImportState(ReadOnlySpan<float> state);
}
