using System.Numerics;
using System.Runtime.CompilerServices;

namespace DistTrainer.Numerics.Optimizers;

/// <summary>Plain gradient descent: w ← w − η(g + λw).</summary>
public sealed class Sgd(float learningRate, float weightDecay) : IOptimizer
{
    [MethodImpl(MethodImplOptions.AggressiveOptimization)] // a short run's thousands of tiny steps would start as tier-0 code
    public void Step(Span<float> weights, ReadOnlySpan<float> gradients)
    {
        OptimizerGuard.CheckLengths(weights, gradients);
        var i = 0;
        var shrink = 1f - learningRate * weightDecay;
        if (Vector.IsHardwareAccelerated)
        {
            var vShrink = new Vector<float>(shrink);
            var vLr = new Vector<float>(learningRate);
            for (; i <= weights.Length - Vector<float>.Count; i += Vector<float>.Count)
            {
                var w = new Vector<float>(weights[i..]);
                var g = new Vector<float>(gradients[i..]);
                (w * vShrink - vLr * g).CopyTo(weights[i..]);
            }
        }
        for (; i < weights.Length; i++)
        {
            weights[i] = weights[i] * shrink - learningRate * gradients[i];
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

    public void Step(Span<float> weights, ReadOnlySpan<float> gradients)
    {
        OptimizerGuard.CheckLengths(weights, gradients);
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
                var g = new Vector<float>(gradients[i..]) + vWd * w;
                var b = vMu * new Vector<float>(v[i..]) + g;
                b.CopyTo(v[i..]);
                (w - vLr * (nesterov ? g + vMu * b : b)).CopyTo(weights[i..]);
            }
        }
        for (; i < weights.Length; i++)
        {
            var g = gradients[i] + weightDecay * weights[i];
            var b = momentum * v[i] + g;
            v[i] = b;
            weights[i] -= learningRate * (nesterov ? g + momentum * b : b);
        }
    }

    public float[] ExportState() => (float[])_velocity.Clone();

    public void ImportState(ReadOnlySpan<float> state)
    {
        OptimizerGuard.CheckStateLength(state, _velocity.Length, "momentum");
        state.CopyTo(_velocity);
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
