using System.Numerics;

namespace DistTrainer.Numerics.Optimizers;

/// <summary>
/// Adam (Kingma &amp; Ba) with bias correction and optional L2 weight decay added to the gradient:
/// m ← β₁m + (1−β₁)g, v ← β₂v + (1−β₂)g², w ← w − η·m̂/(√v̂ + ε).
/// </summary>
public sealed class Adam(float learningRate, float beta1, float beta2, float epsilon, float weightDecay, int parameterCount) : IOptimizer
{
    private readonly float[] _m = new float[parameterCount];
    private readonly float[] _v = new float[parameterCount];
    private long _t;

    public void Step(Span<float> weights, ReadOnlySpan<float> gradients) => Step(weights, gradients, default, 1f, default);

    public void Step(Span<float> weights, ReadOnlySpan<float> gradientSum, ReadOnlySpan<float> extraGradientSum, float scale, Span<float> weightsCopy)
    {
        var gradients = new FusedGradient(weights, gradientSum, extraGradientSum, scale, weightsCopy);
        _t++;
        // Fold both bias corrections into the step size: η·√(1−β₂ᵗ)/(1−β₁ᵗ), with ε scaled to match.
        var c1 = 1.0 - Math.Pow(beta1, _t);
        var c2 = 1.0 - Math.Pow(beta2, _t);
        var stepSize = (float)(learningRate * Math.Sqrt(c2) / c1);
        var eps = (float)(epsilon * Math.Sqrt(c2));
        var m = _m.AsSpan(0, weights.Length);
        var v = _v.AsSpan(0, weights.Length);
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
                var mi = vB1 * new Vector<float>(m[i..]) + vOneMinusB1 * g;
                var vi = vB2 * new Vector<float>(v[i..]) + vOneMinusB2 * g * g;
                mi.CopyTo(m[i..]);
                vi.CopyTo(v[i..]);
                gradients.Store(weights, i, w - vStep * mi / (Vector.SquareRoot(vi) + vEps));
            }
        }
        for (; i < weights.Length; i++)
        {
            var g = gradients.Scalar(i) + weightDecay * weights[i];
            m[i] = beta1 * m[i] + (1f - beta1) * g;
            v[i] = beta2 * v[i] + (1f - beta2) * g * g;
            gradients.Store(weights, i, weights[i] - stepSize * m[i] / (MathF.Sqrt(v[i]) + eps));
        }
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
