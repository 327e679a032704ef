using System.Numerics;
using System.Runtime.CompilerServices;

namespace DistTrainer.Numerics.Optimizers;

/// <summary>Plain gradient descent: w ← w − η(g + λw).</summary>
public sealed class Sgd(float learningRate, float weightDecay) : IOptimizer
{
    public void Step(Span<float> weights, ReadOnlySpan<float> gradients) => Step(weights, gradients, default, 1f, default);

    public void Step(Span<float> weights, ReadOnlySpan<float> gradientSum, ReadOnlySpan<float> extraGradientSum, float scale, Span<float> weightsCopy)
    {
        var gradients = new FusedGradient(weights, gradientSum, extraGradientSum, scale, weightsCopy);
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
                gradients.Store(weights, i, w * vShrink - vLr * g);
            }
        }
        for (; i < weights.Length; i++)
        {
            gradients.Store(weights, i, weights[i] * shrink - learningRate * gradients.Scalar(i));
        }
    }

    public float[] ExportState() => [];

    public void ImportState(ReadOnlySpan<float> state) => OptimizerGuard.CheckStateLength(state, 0, "sgd");
}

/// <summary>
/// SGD with momentum in PyTorch's form: b ← μb + g'; classical w ← w − ηb, Nesterov w ← w − η(g' + μb), with g' = g + λw.
/// </summary>
public sealed class MomentumSgd(float learningRate, float momentum, float weightDecay, bool nesterov, int parameterCount) : IOptimizer
{
    private readonly float[] _velocity = new float[parameterCount];

    public void Step(Span<float> weights, ReadOnlySpan<float> gradients) => Step(weights, gradients, default, 1f, default);

    public void Step(Span<float> weights, ReadOnlySpan<float> gradientSum, ReadOnlySpan<float> extraGradientSum, float scale, Span<float> weightsCopy)
    {
        var gradients = new FusedGradient(weights, gradientSum, extraGradientSum, scale, weightsCopy);
        var v = _velocity.AsSpan(0, weights.Length);
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
                var b = vMu * new Vector<float>(v[i..]) + g;
                b.CopyTo(v[i..]);
                gradients.Store(weights, i, w - vLr * (nesterov ? g + vMu * b : b));
            }
        }
        for (; i < weights.Length; i++)
        {
            var g = gradients.Scalar(i) + weightDecay * weights[i];
            var b = momentum * v[i] + g;
            v[i] = b;
            gradients.Store(weights, i, weights[i] - learningRate * (nesterov ? g + momentum * b : b));
        }
    }

    public float[] ExportState() => (float[])_velocity.Clone();

    public void ImportState(ReadOnlySpan<float> state)
    {
        OptimizerGuard.CheckStateLength(state, _velocity.Length, "momentum");
        state.CopyTo(_velocity);
    }
}

/// <summary>
/// The gradient as the fused step reads it, scale·(sum + extra), and the store that also fills the weights copy. The
/// same float operations as separate add, scale and step passes, so both give identical weights.
/// </summary>
internal readonly ref struct FusedGradient
{
    private readonly ReadOnlySpan<float> _sum;
    private readonly ReadOnlySpan<float> _extra;
    private readonly Span<float> _copy;
    private readonly float _scale;
    private readonly Vector<float> _vScale;
    private readonly bool _hasExtra;
    private readonly bool _hasCopy;

    public FusedGradient(ReadOnlySpan<float> weights, ReadOnlySpan<float> sum, ReadOnlySpan<float> extra, float scale, Span<float> copy)
    {
        OptimizerGuard.CheckLengths(weights, sum);
        if (!extra.IsEmpty)
        {
            OptimizerGuard.CheckLengths(weights, extra);
        }
        if (!copy.IsEmpty && copy.Length != weights.Length)
        {
            throw new ArgumentException($"the weights copy has {copy.Length} values, the weights have {weights.Length}.");
        }
        _sum = sum;
        _extra = extra;
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
    public void Store(Span<float> weights, int i, Vector<float> w)
    {
        w.CopyTo(weights[i..]);
        if (_hasCopy)
        {
            w.CopyTo(_copy[i..]);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void Store(Span<float> weights, int i, float w)
    {
        weights[i] = w;
        if (_hasCopy)
        {
            _copy[i] = w;
        }
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
