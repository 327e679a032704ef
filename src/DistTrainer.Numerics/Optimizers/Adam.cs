using System.Numerics;
using System.Runtime.CompilerServices;

namespace DistTrainer.Numerics.Optimizers;

/// <summary>
/// Adam (Kingma &amp; Ba) with bias correction and optional L2 weight decay added to the gradient:
/// m ← β₁m + (1−β₁)g, v ← β₂v + (1−β₂)g², w ← w − η·m̂/(√v̂ + ε).
/// </summary>
public sealed class Adam(float learningRate, float beta1, float beta2, float epsilon, float weightDecay, int parameterCount) : IOptimizer
{
    private float[] _m = new float[parameterCount];
    private float[] _v = new float[parameterCount];
    private float[]? _nextM; // the sliced step writes the moments here and swaps on success
    private float[]? _nextV;
    private long _t;
    private (float StepSize, float Eps) _open; // the sliced step's constants

    public void Step(Span<float> weights, ReadOnlySpan<float> gradients)
    {
        _t++;
        var (stepSize, eps) = Constants(_t);
        Update(weights, new FusedGradient(weights, gradients, default, 1f, weights, default), 0, _m, _v, stepSize, eps);
    }

    public void BeginStep()
    {
        _nextM ??= new float[_m.Length];
        _nextV ??= new float[_v.Length];
        _open = Constants(_t + 1);
    }

    public bool StepSlice(ReadOnlySpan<float> weights, ReadOnlySpan<float> gradientSum, ReadOnlySpan<float> extraGradientSum, float scale,
        Span<float> newWeights, Span<float> newWeightsCopy, int offset) =>
        Update(weights, new FusedGradient(weights, gradientSum, extraGradientSum, scale, newWeights, newWeightsCopy), offset,
            _nextM ?? throw new InvalidOperationException("StepSlice before BeginStep"), _nextV!, _open.StepSize, _open.Eps);

    public void EndStep(bool keep)
    {
        if (keep)
        {
            _t++;
            (_m, _nextM) = (_nextM!, _m);
            (_v, _nextV) = (_nextV!, _v);
        }
    }

    /// <summary>Both bias corrections of step <paramref name="t"/> folded into the step size, η·√(1−β₂ᵗ)/(1−β₁ᵗ), with ε scaled to match.</summary>
    private (float StepSize, float Eps) Constants(long t)
    {
        var c1 = 1.0 - Math.Pow(beta1, t);
        var c2 = 1.0 - Math.Pow(beta2, t);
        return ((float)(learningRate * Math.Sqrt(c2) / c1), (float)(epsilon * Math.Sqrt(c2)));
    }

    /// <summary>
    /// Reads the moments of elements offset.. from <c>_m</c>, <c>_v</c> and writes them to <paramref name="newM"/>,
    /// <paramref name="newV"/> (which may be the same arrays).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private bool Update(ReadOnlySpan<float> weights, FusedGradient gradients, int offset, float[] newM, float[] newV, float stepSize, float eps)
    {
        var m = _m.AsSpan(offset, weights.Length);
        var v = _v.AsSpan(offset, weights.Length);
        var mOut = newM.AsSpan(offset, weights.Length);
        var vOut = newV.AsSpan(offset, weights.Length);
        var finite = new FiniteProbe();
        var i = 0;
        if (Vector.IsHardwareAccelerated)
        {
            var vB1 = new Vector<float>(beta1);
            var vB2 = new Vector<float>(beta2);
            var vOneMinusB1 = new Vector<float>(1f - beta1);
            var vOneMinusB2 = new Vector<float>(1f - beta2);
            var vWd = new Vector<float>(weightDecay);
            var vStep = new Vector<float>(stepSize);
            var vEps = new Vector<float>(eps);
            for (; i <= weights.Length - Vector<float>.Count; i += Vector<float>.Count)
            {
                var w = new Vector<float>(weights[i..]);
                var g = gradients.Vector(i) + vWd * w;
                var mi = finite.Add(vB1 * new Vector<float>(m[i..]) + vOneMinusB1 * g);
                var vi = finite.Add(vB2 * new Vector<float>(v[i..]) + vOneMinusB2 * g * g);
                mi.CopyTo(mOut[i..]);
                vi.CopyTo(vOut[i..]);
                gradients.Store(i, finite.Add(w - vStep * mi / (Vector.SquareRoot(vi) + vEps)));
            }
        }
        for (; i < weights.Length; i++)
        {
            var g = gradients.Scalar(i) + weightDecay * weights[i];
            var mi = finite.Add(beta1 * m[i] + (1f - beta1) * g);
            var vi = finite.Add(beta2 * v[i] + (1f - beta2) * g * g);
            mOut[i] = mi;
            vOut[i] = vi;
            gradients.Store(i, finite.Add(weights[i] - stepSize * mi / (MathF.Sqrt(vi) + eps)));
        }
        return finite.AllFinite;
    }

    /// <summary>State layout: [t, m…, v…].</summary>
    public float[] ExportState()
    {
        var state = new float[1 + 2 * _m.Length];
        state[0] = _t;
        _m.CopyTo(state, 1);
        _v.CopyTo(state, 1 + _m.Length);
        return state;
    }

    public void ImportState(ReadOnlySpan<float> state)
    {
        OptimizerGuard.CheckStateLength(state, 1 + 2 * _m.Length, "adam");
        _t = (long)state[0];
        state.Slice(1, _m.Length).CopyTo(_m);
        state.Slice(1 + _m.Length, _v.Length).CopyTo(_v);
    }
}
