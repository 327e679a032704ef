using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace DistTrainer.Numerics.Kernels;

/// <summary>
/// Element-wise kernels of contrastive divergence: Bernoulli sampling from probabilities and uniforms, a numerically
/// stable softplus, and the step's bias-and-sigmoid, bias-gradient and squared-distance passes. Each has a scalar reference twin.
/// </summary>
/// <remarks>
/// The step's passes are here rather than in TensorPrimitives because of JIT tiering: a fit at batch 10 is a few
/// thousand tiny steps in a fresh process, and TensorPrimitives' generic loops start as tier-0 code (every vector
/// operation a call) until the runtime promotes them, about as long as the fit itself. These methods are
/// AggressiveOptimization, so they are fully optimized from the first call.
/// </remarks>
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

    /// <summary>
    /// Each row of <paramref name="values"/> (rows × bias.Length, row-major) becomes σ(row + bias) in place, with
    /// σ(x) = 1 / (1 + e⁻ˣ) and e⁻ˣ from <see cref="Exp(Vector256{float})"/>. Every element goes through the same vector
    /// code (a row's tail through a padded vector), so a row's result does not depend on the rows around it.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void AddBiasSigmoid(Span<float> values, ReadOnlySpan<float> bias)
    {
        var width = bias.Length;
        if (width == 0 || values.Length % width != 0)
        {
            throw new ArgumentException($"values hold {values.Length} elements, not whole rows of {width}.", nameof(values));
        }
        if (!Vector256.IsHardwareAccelerated)
        {
            AddBiasSigmoidReference(values, bias);
            return;
        }
        const int n = 8; // Vector256<float>.Count
        Span<float> pad = stackalloc float[n];
        for (var start = 0; start < values.Length; start += width)
        {
            var row = values.Slice(start, width);
            var i = 0;
            for (; i <= width - n; i += n)
            {
                Sigmoid(Vector256.Create(row.Slice(i, n)) + Vector256.Create(bias.Slice(i, n))).CopyTo(row.Slice(i, n));
            }
            if (i < width)
            {
                for (var t = 0; t < width - i; t++)
                {
                    pad[t] = row[i + t] + bias[i + t];
                }
                Sigmoid(Vector256.Create(pad)).CopyTo(pad);
                pad[..(width - i)].CopyTo(row[i..]);
            }
        }
    }

    /// <summary>The plain loop that <see cref="AddBiasSigmoid"/> is tested against.</summary>
    public static void AddBiasSigmoidReference(Span<float> values, ReadOnlySpan<float> bias)
    {
        for (var i = 0; i < values.Length; i++)
        {
            values[i] = 1f / (1f + MathF.Exp(-(values[i] + bias[i % bias.Length])));
        }
    }

    /// <summary>
    /// sum += Σ over rows r of (plus[r] − minus[r]), where plus and minus are (rows × sum.Length), adding then subtracting
    /// row by row: the bias gradient of contrastive divergence, model statistics minus data statistics.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void AccumulateRowDifferences(ReadOnlySpan<float> plus, ReadOnlySpan<float> minus, Span<float> sum)
    {
        var width = sum.Length;
        if (plus.Length != minus.Length || width == 0 || plus.Length % width != 0)
        {
            throw new ArgumentException($"plus ({plus.Length}) and minus ({minus.Length}) must be the same whole rows of {width}.", nameof(sum));
        }
        var i = 0;
        if (Vector256.IsHardwareAccelerated)
        {
            for (var n = Vector256<float>.Count; i <= width - n; i += n)
            {
                var s = Vector256.Create(sum.Slice(i, n));
                for (var start = i; start < plus.Length; start += width)
                {
                    s = s + Vector256.Create(plus.Slice(start, n)) - Vector256.Create(minus.Slice(start, n));
                }
                s.CopyTo(sum.Slice(i, n));
            }
        }
        for (; i < width; i++)
        {
            var s = sum[i];
            for (var start = i; start < plus.Length; start += width)
            {
                s = s + plus[start] - minus[start];
            }
            sum[i] = s;
        }
    }

    /// <summary>The plain loop that <see cref="AccumulateRowDifferences"/> is tested against.</summary>
    public static void AccumulateRowDifferencesReference(ReadOnlySpan<float> plus, ReadOnlySpan<float> minus, Span<float> sum)
    {
        for (var k = 0; k < plus.Length; k++)
        {
            sum[k % sum.Length] = sum[k % sum.Length] + plus[k] - minus[k];
        }
    }

    /// <summary>Σ (x[i] − y[i])², summed in single precision.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static float SquaredDistance(ReadOnlySpan<float> x, ReadOnlySpan<float> y)
    {
        if (x.Length != y.Length)
        {
            throw new ArgumentException($"x holds {x.Length} values, y {y.Length}.", nameof(y));
        }
        var i = 0;
        var total = 0f;
        if (Vector256.IsHardwareAccelerated)
        {
            var sums = Vector256<float>.Zero;
            for (var n = Vector256<float>.Count; i <= x.Length - n; i += n)
            {
                var d = Vector256.Create(x.Slice(i, n)) - Vector256.Create(y.Slice(i, n));
                sums += d * d;
            }
            total = Vector256.Sum(sums);
        }
        for (; i < x.Length; i++)
        {
            var d = x[i] - y[i];
            total += d * d;
        }
        return total;
    }

    /// <summary>The plain loop that <see cref="SquaredDistance"/> is tested against.</summary>
    public static double SquaredDistanceReference(ReadOnlySpan<float> x, ReadOnlySpan<float> y)
    {
        double total = 0;
        for (var i = 0; i < x.Length; i++)
        {
            double d = x[i] - y[i];
            total += d * d;
        }
        return total;
    }

    /// <summary>Fills <paramref name="dest"/> with uniforms in [0, 1) drawn in order from <paramref name="random"/>.</summary>
    public static void FillUniform(ref SeededRandom random, Span<float> dest) => random.FillFloats(dest);

    /// <summary>log(1 + eˣ) without overflow or cancellation: max(x, 0) + log1p(e^−|x|).</summary>
    public static double Softplus(double x) => Math.Max(x, 0.0) + Log1P(Math.Exp(-Math.Abs(x)));

    /// <summary>log σ(x) = −softplus(−x), finite for every finite x.</summary>
    public static double LogSigmoid(double x) => -Softplus(-x);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> Sigmoid(Vector256<float> x) => Vector256<float>.One / (Vector256<float>.One + Exp(-x));

    /// <summary>
    /// eˣ in single precision (Cephes' expf: x = k·ln 2 + r, a degree-5 polynomial in r, times 2ᵏ; relative error about
    /// 1e-7), for x clamped to [−87, 88]. Vector256.Exp widens to double in generic helpers the JIT does not inline,
    /// which would run as tier-0 code through a short fit.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector256<float> Exp(Vector256<float> x)
    {
        x = Vector256.Min(Vector256.Max(x, Vector256.Create(-87f)), Vector256.Create(88f));
        var k = Vector256.Round(x * Vector256.Create(1.44269504088896341f));
        var r = x - k * Vector256.Create(0.693359375f) - k * Vector256.Create(-2.12194440e-4f);
        var p = Vector256.Create(1.9875691500e-4f);
        p = p * r + Vector256.Create(1.3981999507e-3f);
        p = p * r + Vector256.Create(8.3334519073e-3f);
        p = p * r + Vector256.Create(4.1665795894e-2f);
        p = p * r + Vector256.Create(1.6666665459e-1f);
        p = p * r + Vector256.Create(5.0000001201e-1f);
        p = p * (r * r) + r + Vector256<float>.One;
        var twoToK = Vector256.ShiftLeft(Vector256.ConvertToInt32(k) + Vector256.Create(127), 23).AsSingle();
        return p * twoToK;
    }

    /// <summary>log(1 + x), accurate for tiny x (the base library computes log(1 + x) directly).</summary>
    public static double Log1P(double x)
    {
        var u = 1.0 + x;
        // Goldberg's correction: the rounding error of 1 + x cancels in log(u)·x/(u − 1).
        return u == 1.0 ? x : Math.Log(u) * x / (u - 1.0);
    }
}
