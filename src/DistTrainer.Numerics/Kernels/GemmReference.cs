namespace DistTrainer.Numerics.Kernels;

/// <summary>
/// Plain scalar matrix products: the algorithmic reference that <see cref="Gemm"/> is tested against.
/// All matrices are row-major and contiguous. When <c>accumulate</c> is false, C is overwritten.
/// </summary>
public static class GemmReference
{
    /// <summary>C(m,n) (+)= A(m,k) · B(k,n).</summary>
    public static void MultiplyNN(int m, int n, int k, ReadOnlySpan<float> a, ReadOnlySpan<float> b, Span<float> c, bool accumulate)
    {
        for (var i = 0; i < m; i++)
        {
            for (var j = 0; j < n; j++)
            {
                var sum = 0f;
                for (var p = 0; p < k; p++)
                {
                    sum += a[i * k + p] * b[p * n + j];
                }
                c[i * n + j] = accumulate ? c[i * n + j] + sum : sum;
            }
        }
    }

    /// <summary>C(m,n) (+)= A(k,m)ᵀ · B(k,n).</summary>
    public static void MultiplyTN(int m, int n, int k, ReadOnlySpan<float> a, ReadOnlySpan<float> b, Span<float> c, bool accumulate)
    {
        for (var i = 0; i < m; i++)
        {
            for (var j = 0; j < n; j++)
            {
                var sum = 0f;
                for (var p = 0; p < k; p++)
                {
                    sum += a[p * m + i] * b[p * n + j];
                }
                c[i * n + j] = accumulate ? c[i * n + j] + sum : sum;
            }
        }
    }

    /// <summary>C(m,n) (+)= A(m,k) · B(n,k)ᵀ.</summary>
    public static void MultiplyNT(int m, int n, int k, ReadOnlySpan<float> a, ReadOnlySpan<float> b, Span<float> c, bool accumulate)
    {
        for (var i = 0; i < m; i++)
        {
            for (var j = 0; j < n; j++)
            {
                var sum = 0f;
                for (var p = 0; p < k; p++)
                {
                    sum += a[i * k + p] * b[j * k + p];
                }
                c[i * n + j] = accumulate ? c[i * n + j] + sum : sum;
            }
        }
    }
}
