using DistTrainer.Numerics.Kernels;

namespace DistTrainer.Numerics.Optimizers;

/// <summary>
/// An optimizer's <see cref="IOptimizer.TryStep"/> spread over slices: the calling thread runs them, and threads idling
/// in <see cref="SpareThreads.Help"/> take some. The slices start at multiples of 64 elements, so each element goes
/// through the same vector or scalar code as in one whole pass: the result is bit for bit that of TryStep. With no
/// helper it costs a handful of claims. One instance serves one caller at a time; it allocates nothing per step.
/// </summary>
public sealed class SpreadStep : IPartedWork
{
    private const int Alignment = 64;
    private readonly IOptimizer _optimizer;
    private readonly int _slices;
    private readonly bool[] _finite;
    private float[] _weights = [];
    private float[] _sum = [];
    private float[] _extra = [];
    private float[] _newWeights = [];
    private float _scale;
    private int _sliceLength;

    /// <param name="slices">how many pieces the pass is cut into: more than the threads, so a late helper costs little.</param>
    public SpreadStep(IOptimizer optimizer, int slices = 8)
    {
        ArgumentNullException.ThrowIfNull(optimizer);
        ArgumentOutOfRangeException.ThrowIfLessThan(slices, 1);
        _optimizer = optimizer;
        _slices = slices;
        _finite = new bool[slices];
    }

    /// <summary>
    /// <see cref="IOptimizer.TryStep"/> into <paramref name="newWeights"/> (no copy). <paramref name="extraGradientSum"/> may be empty.
    /// </summary>
    public bool TryStep(float[] weights, float[] gradientSum, float[] extraGradientSum, float scale, float[] newWeights)
    {
        ArgumentNullException.ThrowIfNull(weights);
        ArgumentNullException.ThrowIfNull(gradientSum);
        ArgumentNullException.ThrowIfNull(extraGradientSum);
        ArgumentNullException.ThrowIfNull(newWeights);
        if (gradientSum.Length != weights.Length || (extraGradientSum.Length != 0 && extraGradientSum.Length != weights.Length) || newWeights.Length != weights.Length)
        {
            throw new ArgumentException($"a spread step needs buffers of {weights.Length} values: the gradient has {gradientSum.Length}, the extra gradient {extraGradientSum.Length}, the new weights {newWeights.Length}");
        }
        (_weights, _sum, _extra, _newWeights, _scale) = (weights, gradientSum, extraGradientSum, newWeights, scale);
        _sliceLength = (weights.Length / _slices + Alignment - 1) / Alignment * Alignment;
        var slices = _sliceLength == 0 ? 1 : (weights.Length + _sliceLength - 1) / _sliceLength;
        Array.Fill(_finite, true);
        _optimizer.BeginStep();
        try
        {
            ComputePool.Shared.RunWithSpareThreads(slices, this);
        }
        finally
        {
            (_weights, _sum, _extra, _newWeights) = ([], [], [], []); // holds no buffer between steps
        }
        var finite = Array.TrueForAll(_finite, f => f);
        _optimizer.EndStep(finite);
        return finite;
    }

    void IPartedWork.RunPart(int part)
    {
        var start = part * _sliceLength;
        var length = Math.Min(_sliceLength == 0 ? _weights.Length : _sliceLength, _weights.Length - start);
        _finite[part] = _optimizer.StepSlice(_weights.AsSpan(start, length), _sum.AsSpan(start, length),
            _extra.Length == 0 ? [] : _extra.AsSpan(start, length), _scale, _newWeights.AsSpan(start, length), [], start);
    }
}
