using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace DistTrainer.Numerics.Kernels;

/// <summary>
/// Element-wise kernels of contrastive divergence that TensorPrimitives lacks: Bernoulli sampling from
/// probabilities and uniforms, and a numerically stable softplus. Each has a scalar reference twin.
/// </summary>
public static class RbmKernels
{
    /// <summary>dest[i] = uniforms[i] &lt; probabilities[i] ? 1 : 0. Shapes: all three are (n).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void SampleBernoulli(ReadOnlySpan<float> probabilities, ReadOnlySpan<float> uniforms, Span<float> dest)
    {
        if (probabilities.Length != uniforms.Length || probabilities.Length != dest.Length)
        {
            throw new ArgumentException("probabilities, uniforms and dest must have the same length.", nameof(dest));
        }
        var i = 0;
        if (Vector256.IsHardwareAccelerated)
        {
            var one = Vector256<float>.One;
            for (var n = Vector256<float>.Count; i <= dest.Length - n; i += n)
            {
                var below = Vector256.LessThan(Vector256.Create(uniforms.Slice(i, n)), Vector256.Create(probabilities.Slice(i, n)));
                (below & one).CopyTo(dest.Slice(i, n));
            }
        }
        for (; i < dest.Length; i++)
        {
            dest[i] = uniforms[i] < probabilities[i] ? 1f : 0f;
        }
    }

    /// <summary>The plain loop that <see cref="SampleBernoulli"/> is tested against.</summary>
    public static void SampleBernoulliReference(ReadOnlySpan<float> probabilities, ReadOnlySpan<float> uniforms, Span<float> dest)
    {
        for (var i = 0; i < dest.Length; i++)
        {
            dest[i] = uniforms[i] < probabilities[i] ? 1f : 0f;
        }
    }

    /// <summary>Fills <paramref name="dest"/> with uniforms in [0, 1) drawn in order from <paramref name="random"/>.</summary>
    public static void FillUniform(ref SeededRandom random, Span<float> dest) => random.FillFloats(dest);

    /// <summary>log(1 + eˣ) without overflow or cancellation: max(x, 0) + log1p(e^−|x|).</summary>
    public static double Softplus(double x) => Math.Max(x, 0.0) + Log1P(Math.Exp(-Math.Abs(x)));

    /// <summary>log σ(x) = −softplus(−x), finite for every finite x.</summary>
    public static double LogSigmoid(double x) => -Softplus(-x);

    /// <summary>log(1 + x), accurate for tiny x (the base library computes log(1 + x) directly).</summary>
    public static double Log1P(double x)
    {
        var u = 1.0 + x;
        // Goldberg's correction: the rounding error of 1 + x cancels in log(u)·x/(u − 1).
        return u == 1.0 ? x : Math.Log(u) * x / (u - 1.0);
    }
}
