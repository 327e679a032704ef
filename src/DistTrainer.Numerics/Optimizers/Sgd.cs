using System.Numerics;
using System.Runtime.CompilerServices;

namespace DistTrainer.Numerics.Optimizers;

/// <summary>Plain gradient descent: w ← w − η(g + λw).</summary>
public sealed class Sgd(float learningRate, float weightDecay) : IOptimizer
{
    public void Step(Span<float> weights, ReadOnlySpan<float> gradients) => Update(weights, new FusedGradient(weights, gradients, default, 1f, weights, default));

    public void BeginStep()
    {
    }

    public bool StepSlice(ReadOnlySpan<float> weights, ReadOnlySpan<float> gradientSum, ReadOnlySpan<float> extraGradientSum, float scale,
        Span<float> newWeights, Span<float> newWeightsCopy, int offset) =>
        Update(weights, new FusedGradient(weights, gradientSum, extraGradientSum, scale, newWeights, newWeightsCopy));

    public void EndStep(bool keep)
    {
    }

    /// <summary>True when every new weight is finite.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)] // a short run's thousands of tiny steps would start as tier-0 code
    private bool Update(ReadOnlySpan<float> weights, FusedGradient gradients)
    {
        var finite = new FiniteProbe();
        var i = 0;
        var shrink = 1f - learningRate * weightDecay;
        if (Vector.IsHardwareAccelerated)
        {
            var vShrink = new Vector<float>(shrink);
            var vLr = new Vector<float>(learningRate);
            for (; i <= weights.Length - Vector<float>.Count; i += Vector<float>.Count)
            {
                var w = new Vector<float>(weights[i..]);
                var g = gradients.Vector(i);
                gradients.Store(i, finite.Add(w * vShrink - vLr * g));
            }
        }
        for (; i < weights.Length; i++)
        {
            gradients.Store(i, finite.Add(weights[i] * shrink - learningRate * gradients.Scalar(i)));
        }
        return finite.AllFinite;
    }

    public float[] ExportState() => [];

    public void ImportState(ReadOnlySpan<float> state) => OptimizerGuard.CheckStateLength(state, 0, "sgd");
}

/// <summary>
/// SGD with momentum in PyTorch's form: b ← μb + g'; classical w ← w − ηb, Nesterov w ← w − η(g' + μb), with g' = g + λw.
/// </summary>
public sealed class MomentumSgd(float learningRate, float momentum, float weightDecay, bool nesterov, int parameterCount) : IOptimizer
{
    private float[] _velocity = new float[parameterCount];
    private float[]? _nextVelocity; // TryStep writes here and swaps on success

    public void Step(Span<float> weights, ReadOnlySpan<float> gradients) =>
        Update(weights, new FusedGradient(weights, gradients, default, 1f, weights, default), 0, _velocity);

    public void BeginStep() => _nextVelocity ??= new float[_velocity.Length];

    public bool StepSlice(ReadOnlySpan<float> weights, ReadOnlySpan<float> gradientSum, ReadOnlySpan<float> extraGradientSum, float scale,
        Span<float> newWeights, Span<float> newWeightsCopy, int offset) =>
        Update(weights, new FusedGradient(weights, gradientSum, extraGradientSum, scale, newWeights, newWeightsCopy), offset,
            _nextVelocity ?? throw new InvalidOperationException("StepSlice before BeginStep"));

    public void EndStep(bool keep)
    {
        if (keep)
        {
            (_velocity, _nextVelocity) = (_nextVelocity!, _velocity);
        }
    }

    /// <summary>
    /// Reads the velocity of elements offset.. from <c>_velocity</c> and writes it to <paramref name="newVelocity"/>
    /// (which may be the same array).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private bool Update(ReadOnlySpan<float> weights, FusedGradient gradients, int offset, float[] newVelocity)
    {
        var v = _velocity.AsSpan(offset, weights.Length);
        var next = newVelocity.AsSpan(offset, weights.Length);
        var finite = new FiniteProbe();
        var i = 0;
        if (Vector.IsHardwareAccelerated)
        {
            var vMu = new Vector<float>(momentum);
            var vLr = new Vector<float>(learningRate);
            var vWd = new Vector<float>(weightDecay);
            for (; i <= weights.Length - Vector<float>.Count; i += Vector<float>.Count)
            {
                var w = new Vector<float>(weights[i..]);
                var g = gradients.Vector(i) + vWd * w;
                var b = finite.Add(vMu * new Vector<float>(v[i..]) + g);
                b.CopyTo(next[i..]);
                gradients.Store(i, finite.Add(w - vLr * (nesterov ? g + vMu * b : b)));
            }
        }
        for (; i < weights.Length; i++)
        {
            var g = gradients.Scalar(i) + weightDecay * weights[i];
            var b = finite.Add(momentum * v[i] + g);
            next[i] = b;
            gradients.Store(i, finite.Add(weights[i] - learningRate * (nesterov ? g + momentum * b : b)));
        }
        return finite.AllFinite;
    }

    public float[] ExportState() => (float[])_velocity.Clone();

    public void ImportState(ReadOnlySpan<float> state)
    {
        OptimizerGuard.CheckStateLength(state, _velocity.Length, "momentum");
        state.CopyTo(_velocity);
    }
}

/// <summary>
/// The gradient as the fused step reads it, scale·(sum + extra), and the store that writes the new weights and their
/// copy. The same float operations as separate add, scale and step passes, so both give identical weights.
/// </summary>
internal readonly ref struct FusedGradient
{
    private readonly ReadOnlySpan<float> _sum;
    private readonly ReadOnlySpan<float> _extra;
    private readonly Span<float> _output;
    private readonly Span<float> _copy;
    private readonly float _scale;
    private readonly Vector<float> _vScale;
    private readonly bool _hasExtra;
    private readonly bool _hasCopy;

    /// <param name="output">the new weights: the weights themselves for an in-place step, else an array of the same length that does not overlap them.</param>
    public FusedGradient(ReadOnlySpan<float> weights, ReadOnlySpan<float> sum, ReadOnlySpan<float> extra, float scale, Span<float> output, Span<float> copy)
    {
        OptimizerGuard.CheckLengths(weights, sum);
        if (!extra.IsEmpty)
        {
            OptimizerGuard.CheckLengths(weights, extra);
        }
        if (output.Length != weights.Length)
        {
            throw new ArgumentException($"the new weights have {output.Length} values, the weights have {weights.Length}.");
        }
        if (!copy.IsEmpty && copy.Length != weights.Length)
        {
            throw new ArgumentException($"the weights copy has {copy.Length} values, the weights have {weights.Length}.");
        }
        _sum = sum;
        _extra = extra;
        _output = output;
        _copy = copy;
        _scale = scale;
        _vScale = new Vector<float>(scale);
        _hasExtra = !extra.IsEmpty;
        _hasCopy = !copy.IsEmpty;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public Vector<float> Vector(int i)
    {
        var g = new Vector<float>(_sum[i..]);
        if (_hasExtra)
        {
            g += new Vector<float>(_extra[i..]);
        }
        return g * _vScale;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public float Scalar(int i) => (_hasExtra ? _sum[i] + _extra[i] : _sum[i]) * _scale;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void Store(int i, Vector<float> w)
    {
        w.CopyTo(_output[i..]);
        if (_hasCopy)
        {
            w.CopyTo(_copy[i..]);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void Store(int i, float w)
    {
        _output[i] = w;
        if (_hasCopy)
        {
            _copy[i] = w;
        }
    }
}

/// <summary>
/// Notes whether every value it is shown is finite, at the price of one multiply-add per vector inside a pass that
/// waits on memory anyway: x·0 is 0 for every finite x and NaN for ±∞ and NaN, and a sum holding a NaN stays NaN.
/// </summary>
internal struct FiniteProbe()
{
    private Vector<float> _lanes = Vector<float>.Zero;
    private bool _scalarsFinite = true;

    public readonly bool AllFinite => _scalarsFinite && System.Numerics.Vector.EqualsAll(_lanes, _lanes);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public Vector<float> Add(Vector<float> values)
    {
        _lanes += values * Vector<float>.Zero;
        return values;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public float Add(float value)
    {
        _scalarsFinite &= float.IsFinite(value);
        return value;
    }
}

internal static class OptimizerGuard
{
    public static void CheckLengths(ReadOnlySpan<float> weights, ReadOnlySpan<float> gradients)
    {
        if (weights.Length != gradients.Length)
        {
            throw new ArgumentException($"gradient has {gradients.Length} values, the weights have {weights.Length}.");
        }
    }

    public static void CheckStateLength(ReadOnlySpan<float> state, int expected, string name)
    {
        if (state.Length != expected)
        {
            throw new ArgumentException($"{name} optimizer state has {state.Length} values, expected {expected}.");
        }
    }
}
