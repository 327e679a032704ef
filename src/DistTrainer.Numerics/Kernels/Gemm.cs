namespace DistTrainer.Numerics.Kernels;

/// <summary>
/// Fast single-precision matrix products for the three shapes an MLP needs:
/// forward Y = X·W (NN), weight gradient dW = Xᵀ·dY (TN) and input gradient dX = dY·Wᵀ (NT).
/// Row-major, contiguous. Thread-safe: concurrent callers never share scratch memory.
/// <paramref name="threads"/> &gt; 1 splits the work across that many cores.
/// Placeholder: delegates to the reference until the blocked SIMD kernel lands.
/// </summary>
public static class Gemm
{
    /// <summary>C(m,n) (+)= A(m,k) · B(k,n).</summary>
    public static void MultiplyNN(int m, int n, int k, ReadOnlySpan<float> a, ReadOnlySpan<float> b, Span<float> c, bool accumulate, int threads = 1)
        => GemmReference.MultiplyNN(m, n, k, a, b, c, accumulate);

    /// <summary>C(m,n) (+)= A(k,m)ᵀ · B(k,n).</summary>
    public static void MultiplyTN(int m, int n, int k, ReadOnlySpan<float> a, ReadOnlySpan<float> b, Span<float> c, bool accumulate, int threads = 1)
        => GemmReference.MultiplyTN(m, n, k, a, b, c, accumulate);

    /// <summary>C(m,n) (+)= A(m,k) · B(n,k)ᵀ.</summary>
    public static void MultiplyNT(int m, int n, int k, ReadOnlySpan<float> a, ReadOnlySpan<float> b, Span<float> c, bool accumulate, int threads = 1)
        => GemmReference.MultiplyNT(m, n, k, a, b, c, accumulate);
}
