using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace DistTrainer.Numerics.Kernels;

// Microkernels: C tile (+)= packed A panel (kc × MR, MR values per step) · packed B panel (kc × NR, NR per step).
// They must stay free of calls: any call in the loop makes the JIT spill the accumulators to the stack.
// Generated shape: one local per accumulator, so every accumulator lives in a register.

/// <summary>A register-tiled microkernel over packed panels.</summary>
internal unsafe interface IMicroKernel
{
    /// <summary>Rows of the register tile (height of a packed A panel).</summary>
    static abstract int Mr { get; }

    /// <summary>Columns of the register tile (width of a packed B panel).</summary>
    static abstract int Nr { get; }

    /// <summary>C[Mr×Nr] (+)= A panel · B panel.</summary>
    static abstract void Full(int kc, float* a, float* b, float* c, int ldc, bool accumulate);

    /// <summary>C[Mr×Nr/2] (+)= A panel · the left half of the B panel, for skinny edges.</summary>
    static abstract void Half(int kc, float* a, float* b, float* c, int ldc, bool accumulate);

    /// <summary>Whether <see cref="Masked"/> can write a column edge straight into C.</summary>
    static abstract bool HasMasked { get; }

    /// <summary>C[Mr×cols] (+)= A panel · the first cols columns of the B panel, 0 &lt; cols &lt; Nr, with masked loads and stores.</summary>
    static abstract void Masked(int kc, float* a, float* b, float* c, int ldc, bool accumulate, int cols);
}

/// <summary>8 × 32 tile of Vector512&lt;float&gt;: 16 accumulators, 2 B loads and 8 A broadcasts per step.</summary>
internal readonly unsafe struct Kernel512 : IMicroKernel
{
    public const int Mr = 8;
    public const int Nr = 32;

    static int IMicroKernel.Mr => Mr;

    static int IMicroKernel.Nr => Nr;

    static bool IMicroKernel.HasMasked => Avx512F.IsSupported;

    /// <summary>C[8×cols] (+)= Apanel · the first cols (1..31) columns of Bpanel, storing through a lane mask.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Masked(int kc, float* a, float* b, float* c, int ldc, bool accumulate, int cols)
    {
        if (cols <= 16)
        {
            MaskedHalf(kc, a, b, c, ldc, accumulate, cols);
            return;
        }
        // Two vectors per row: the left one is whole, the right one keeps cols - 16 lanes.
        var mask = Vector512.LessThan(Vector512<int>.Indices, Vector512.Create(cols - 16)).AsSingle();
        var c00 = Vector512<float>.Zero; var c01 = Vector512<float>.Zero;
        var c10 = Vector512<float>.Zero; var c11 = Vector512<float>.Zero;
        var c20 = Vector512<float>.Zero; var c21 = Vector512<float>.Zero;
        var c30 = Vector512<float>.Zero; var c31 = Vector512<float>.Zero;
        var c40 = Vector512<float>.Zero; var c41 = Vector512<float>.Zero;
        var c50 = Vector512<float>.Zero; var c51 = Vector512<float>.Zero;
        var c60 = Vector512<float>.Zero; var c61 = Vector512<float>.Zero;
        var c70 = Vector512<float>.Zero; var c71 = Vector512<float>.Zero;
        for (var p = 0; p < kc; p++)
        {
            var b0 = Vector512.Load(b);
            var b1 = Vector512.Load(b + 16);
            var a0 = Vector512.Create(a[0]);
            c00 = Vector512.FusedMultiplyAdd(a0, b0, c00);
            c01 = Vector512.FusedMultiplyAdd(a0, b1, c01);
            var a1 = Vector512.Create(a[1]);
            c10 = Vector512.FusedMultiplyAdd(a1, b0, c10);
            c11 = Vector512.FusedMultiplyAdd(a1, b1, c11);
            var a2 = Vector512.Create(a[2]);
            c20 = Vector512.FusedMultiplyAdd(a2, b0, c20);
            c21 = Vector512.FusedMultiplyAdd(a2, b1, c21);
            var a3 = Vector512.Create(a[3]);
            c30 = Vector512.FusedMultiplyAdd(a3, b0, c30);
            c31 = Vector512.FusedMultiplyAdd(a3, b1, c31);
            var a4 = Vector512.Create(a[4]);
            c40 = Vector512.FusedMultiplyAdd(a4, b0, c40);
            c41 = Vector512.FusedMultiplyAdd(a4, b1, c41);
            var a5 = Vector512.Create(a[5]);
            c50 = Vector512.FusedMultiplyAdd(a5, b0, c50);
            c51 = Vector512.FusedMultiplyAdd(a5, b1, c51);
            var a6 = Vector512.Create(a[6]);
            c60 = Vector512.FusedMultiplyAdd(a6, b0, c60);
            c61 = Vector512.FusedMultiplyAdd(a6, b1, c61);
            var a7 = Vector512.Create(a[7]);
            c70 = Vector512.FusedMultiplyAdd(a7, b0, c70);
            c71 = Vector512.FusedMultiplyAdd(a7, b1, c71);
            a += 8;
            b += 32;
        }
        if (accumulate)
        {
            c00 += Vector512.Load(c + 0L * ldc);
            c01 += Avx512F.MaskLoad(c + 0L * ldc + 16, mask, Vector512<float>.Zero);
            c10 += Vector512.Load(c + 1L * ldc);
            c11 += Avx512F.MaskLoad(c + 1L * ldc + 16, mask, Vector512<float>.Zero);
            c20 += Vector512.Load(c + 2L * ldc);
            c21 += Avx512F.MaskLoad(c + 2L * ldc + 16, mask, Vector512<float>.Zero);
            c30 += Vector512.Load(c + 3L * ldc);
            c31 += Avx512F.MaskLoad(c + 3L * ldc + 16, mask, Vector512<float>.Zero);
            c40 += Vector512.Load(c + 4L * ldc);
            c41 += Avx512F.MaskLoad(c + 4L * ldc + 16, mask, Vector512<float>.Zero);
            c50 += Vector512.Load(c + 5L * ldc);
            c51 += Avx512F.MaskLoad(c + 5L * ldc + 16, mask, Vector512<float>.Zero);
            c60 += Vector512.Load(c + 6L * ldc);
            c61 += Avx512F.MaskLoad(c + 6L * ldc + 16, mask, Vector512<float>.Zero);
            c70 += Vector512.Load(c + 7L * ldc);
            c71 += Avx512F.MaskLoad(c + 7L * ldc + 16, mask, Vector512<float>.Zero);
        }
        Vector512.Store(c00, c + 0L * ldc);
        Avx512F.MaskStore(c + 0L * ldc + 16, mask, c01);
        Vector512.Store(c10, c + 1L * ldc);
        Avx512F.MaskStore(c + 1L * ldc + 16, mask, c11);
        Vector512.Store(c20, c + 2L * ldc);
        Avx512F.MaskStore(c + 2L * ldc + 16, mask, c21);
        Vector512.Store(c30, c + 3L * ldc);
        Avx512F.MaskStore(c + 3L * ldc + 16, mask, c31);
        Vector512.Store(c40, c + 4L * ldc);
        Avx512F.MaskStore(c + 4L * ldc + 16, mask, c41);
        Vector512.Store(c50, c + 5L * ldc);
        Avx512F.MaskStore(c + 5L * ldc + 16, mask, c51);
        Vector512.Store(c60, c + 6L * ldc);
        Avx512F.MaskStore(c + 6L * ldc + 16, mask, c61);
        Vector512.Store(c70, c + 7L * ldc);
        Avx512F.MaskStore(c + 7L * ldc + 16, mask, c71);
    }

    /// <summary>C[8×cols] (+)= Apanel · the first cols (1..16) columns of Bpanel, storing through a lane mask.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void MaskedHalf(int kc, float* a, float* b, float* c, int ldc, bool accumulate, int cols)
    {
        var mask = Vector512.LessThan(Vector512<int>.Indices, Vector512.Create(cols)).AsSingle();
        var c00 = Vector512<float>.Zero;
        var c10 = Vector512<float>.Zero;
        var c20 = Vector512<float>.Zero;
        var c30 = Vector512<float>.Zero;
        var c40 = Vector512<float>.Zero;
        var c50 = Vector512<float>.Zero;
        var c60 = Vector512<float>.Zero;
        var c70 = Vector512<float>.Zero;
        for (var p = 0; p < kc; p++)
        {
            var b0 = Vector512.Load(b);
            c00 = Vector512.FusedMultiplyAdd(Vector512.Create(a[0]), b0, c00);
            c10 = Vector512.FusedMultiplyAdd(Vector512.Create(a[1]), b0, c10);
            c20 = Vector512.FusedMultiplyAdd(Vector512.Create(a[2]), b0, c20);
            c30 = Vector512.FusedMultiplyAdd(Vector512.Create(a[3]), b0, c30);
            c40 = Vector512.FusedMultiplyAdd(Vector512.Create(a[4]), b0, c40);
            c50 = Vector512.FusedMultiplyAdd(Vector512.Create(a[5]), b0, c50);
            c60 = Vector512.FusedMultiplyAdd(Vector512.Create(a[6]), b0, c60);
            c70 = Vector512.FusedMultiplyAdd(Vector512.Create(a[7]), b0, c70);
            a += 8;
            b += 32;
        }
        if (accumulate)
        {
            c00 += Avx512F.MaskLoad(c + 0L * ldc, mask, Vector512<float>.Zero);
            c10 += Avx512F.MaskLoad(c + 1L * ldc, mask, Vector512<float>.Zero);
            c20 += Avx512F.MaskLoad(c + 2L * ldc, mask, Vector512<float>.Zero);
            c30 += Avx512F.MaskLoad(c + 3L * ldc, mask, Vector512<float>.Zero);
            c40 += Avx512F.MaskLoad(c + 4L * ldc, mask, Vector512<float>.Zero);
            c50 += Avx512F.MaskLoad(c + 5L * ldc, mask, Vector512<float>.Zero);
            c60 += Avx512F.MaskLoad(c + 6L * ldc, mask, Vector512<float>.Zero);
            c70 += Avx512F.MaskLoad(c + 7L * ldc, mask, Vector512<float>.Zero);
        }
        Avx512F.MaskStore(c + 0L * ldc, mask, c00);
        Avx512F.MaskStore(c + 1L * ldc, mask, c10);
        Avx512F.MaskStore(c + 2L * ldc, mask, c20);
        Avx512F.MaskStore(c + 3L * ldc, mask, c30);
        Avx512F.MaskStore(c + 4L * ldc, mask, c40);
        Avx512F.MaskStore(c + 5L * ldc, mask, c50);
        Avx512F.MaskStore(c + 6L * ldc, mask, c60);
        Avx512F.MaskStore(c + 7L * ldc, mask, c70);
    }

    /// <summary>C[8×32] (+)= Apanel · Bpanel.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Full(int kc, float* a, float* b, float* c, int ldc, bool accumulate)
    {
        var c00 = Vector512<float>.Zero; var c01 = Vector512<float>.Zero;
        var c10 = Vector512<float>.Zero; var c11 = Vector512<float>.Zero;
        var c20 = Vector512<float>.Zero; var c21 = Vector512<float>.Zero;
        var c30 = Vector512<float>.Zero; var c31 = Vector512<float>.Zero;
        var c40 = Vector512<float>.Zero; var c41 = Vector512<float>.Zero;
        var c50 = Vector512<float>.Zero; var c51 = Vector512<float>.Zero;
        var c60 = Vector512<float>.Zero; var c61 = Vector512<float>.Zero;
        var c70 = Vector512<float>.Zero; var c71 = Vector512<float>.Zero;
        for (var p = 0; p < kc; p++)
        {
            var b0 = Vector512.Load(b + 0);
            var b1 = Vector512.Load(b + 16);
            var a0 = Vector512.Create(a[0]);
            c00 = Vector512.FusedMultiplyAdd(a0, b0, c00);
            c01 = Vector512.FusedMultiplyAdd(a0, b1, c01);
            var a1 = Vector512.Create(a[1]);
            c10 = Vector512.FusedMultiplyAdd(a1, b0, c10);
            c11 = Vector512.FusedMultiplyAdd(a1, b1, c11);
            var a2 = Vector512.Create(a[2]);
            c20 = Vector512.FusedMultiplyAdd(a2, b0, c20);
            c21 = Vector512.FusedMultiplyAdd(a2, b1, c21);
            var a3 = Vector512.Create(a[3]);
            c30 = Vector512.FusedMultiplyAdd(a3, b0, c30);
            c31 = Vector512.FusedMultiplyAdd(a3, b1, c31);
            var a4 = Vector512.Create(a[4]);
            c40 = Vector512.FusedMultiplyAdd(a4, b0, c40);
            c41 = Vector512.FusedMultiplyAdd(a4, b1, c41);
            var a5 = Vector512.Create(a[5]);
            c50 = Vector512.FusedMultiplyAdd(a5, b0, c50);
            c51 = Vector512.FusedMultiplyAdd(a5, b1, c51);
            var a6 = Vector512.Create(a[6]);
            c60 = Vector512.FusedMultiplyAdd(a6, b0, c60);
            c61 = Vector512.FusedMultiplyAdd(a6, b1, c61);
            var a7 = Vector512.Create(a[7]);
            c70 = Vector512.FusedMultiplyAdd(a7, b0, c70);
            c71 = Vector512.FusedMultiplyAdd(a7, b1, c71);
            a += 8;
            b += 32;
        }
        if (accumulate)
        {
            c00 += Vector512.Load(c + 0L * ldc + 0);
            c01 += Vector512.Load(c + 0L * ldc + 16);
            c10 += Vector512.Load(c + 1L * ldc + 0);
            c11 += Vector512.Load(c + 1L * ldc + 16);
            c20 += Vector512.Load(c + 2L * ldc + 0);
            c21 += Vector512.Load(c + 2L * ldc + 16);
            c30 += Vector512.Load(c + 3L * ldc + 0);
            c31 += Vector512.Load(c + 3L * ldc + 16);
            c40 += Vector512.Load(c + 4L * ldc + 0);
            c41 += Vector512.Load(c + 4L * ldc + 16);
            c50 += Vector512.Load(c + 5L * ldc + 0);
            c51 += Vector512.Load(c + 5L * ldc + 16);
            c60 += Vector512.Load(c + 6L * ldc + 0);
            c61 += Vector512.Load(c + 6L * ldc + 16);
            c70 += Vector512.Load(c + 7L * ldc + 0);
            c71 += Vector512.Load(c + 7L * ldc + 16);
        }
        Vector512.Store(c00, c + 0L * ldc + 0);
        Vector512.Store(c01, c + 0L * ldc + 16);
        Vector512.Store(c10, c + 1L * ldc + 0);
        Vector512.Store(c11, c + 1L * ldc + 16);
        Vector512.Store(c20, c + 2L * ldc + 0);
        Vector512.Store(c21, c + 2L * ldc + 16);
        Vector512.Store(c30, c + 3L * ldc + 0);
        Vector512.Store(c31, c + 3L * ldc + 16);
        Vector512.Store(c40, c + 4L * ldc + 0);
        Vector512.Store(c41, c + 4L * ldc + 16);
        Vector512.Store(c50, c + 5L * ldc + 0);
        Vector512.Store(c51, c + 5L * ldc + 16);
        Vector512.Store(c60, c + 6L * ldc + 0);
        Vector512.Store(c61, c + 6L * ldc + 16);
        Vector512.Store(c70, c + 7L * ldc + 0);
        Vector512.Store(c71, c + 7L * ldc + 16);
    }

    /// <summary>C[8×16] (+)= Apanel · left half of Bpanel (panel stride stays 32).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Half(int kc, float* a, float* b, float* c, int ldc, bool accumulate)
    {
        var c00 = Vector512<float>.Zero;
        var c10 = Vector512<float>.Zero;
        var c20 = Vector512<float>.Zero;
        var c30 = Vector512<float>.Zero;
        var c40 = Vector512<float>.Zero;
        var c50 = Vector512<float>.Zero;
        var c60 = Vector512<float>.Zero;
        var c70 = Vector512<float>.Zero;
        for (var p = 0; p < kc; p++)
        {
            var b0 = Vector512.Load(b + 0);
            var a0 = Vector512.Create(a[0]);
            c00 = Vector512.FusedMultiplyAdd(a0, b0, c00);
            var a1 = Vector512.Create(a[1]);
            c10 = Vector512.FusedMultiplyAdd(a1, b0, c10);
            var a2 = Vector512.Create(a[2]);
            c20 = Vector512.FusedMultiplyAdd(a2, b0, c20);
            var a3 = Vector512.Create(a[3]);
            c30 = Vector512.FusedMultiplyAdd(a3, b0, c30);
            var a4 = Vector512.Create(a[4]);
            c40 = Vector512.FusedMultiplyAdd(a4, b0, c40);
            var a5 = Vector512.Create(a[5]);
            c50 = Vector512.FusedMultiplyAdd(a5, b0, c50);
            var a6 = Vector512.Create(a[6]);
            c60 = Vector512.FusedMultiplyAdd(a6, b0, c60);
            var a7 = Vector512.Create(a[7]);
            c70 = Vector512.FusedMultiplyAdd(a7, b0, c70);
            a += 8;
            b += 32;
        }
        if (accumulate)
        {
            c00 += Vector512.Load(c + 0L * ldc + 0);
            c10 += Vector512.Load(c + 1L * ldc + 0);
            c20 += Vector512.Load(c + 2L * ldc + 0);
            c30 += Vector512.Load(c + 3L * ldc + 0);
            c40 += Vector512.Load(c + 4L * ldc + 0);
            c50 += Vector512.Load(c + 5L * ldc + 0);
            c60 += Vector512.Load(c + 6L * ldc + 0);
            c70 += Vector512.Load(c + 7L * ldc + 0);
        }
        Vector512.Store(c00, c + 0L * ldc + 0);
        Vector512.Store(c10, c + 1L * ldc + 0);
        Vector512.Store(c20, c + 2L * ldc + 0);
        Vector512.Store(c30, c + 3L * ldc + 0);
        Vector512.Store(c40, c + 4L * ldc + 0);
        Vector512.Store(c50, c + 5L * ldc + 0);
        Vector512.Store(c60, c + 6L * ldc + 0);
        Vector512.Store(c70, c + 7L * ldc + 0);
    }
}

/// <summary>6 × 16 tile of Vector256&lt;float&gt;: 12 accumulators, 2 B loads and 6 A broadcasts per step.</summary>
internal readonly unsafe struct Kernel256 : IMicroKernel
{
    public const int Mr = 6;
    public const int Nr = 16;

    static int IMicroKernel.Mr => Mr;

    static int IMicroKernel.Nr => Nr;

    static bool IMicroKernel.HasMasked => false;

    public static void Masked(int kc, float* a, float* b, float* c, int ldc, bool accumulate, int cols) =>
        throw new NotSupportedException("column edges of this kernel go through the tile buffer");

    /// <summary>C[6×16] (+)= Apanel · Bpanel.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Full(int kc, float* a, float* b, float* c, int ldc, bool accumulate)
    {
        var c00 = Vector256<float>.Zero; var c01 = Vector256<float>.Zero;
        var c10 = Vector256<float>.Zero; var c11 = Vector256<float>.Zero;
        var c20 = Vector256<float>.Zero; var c21 = Vector256<float>.Zero;
        var c30 = Vector256<float>.Zero; var c31 = Vector256<float>.Zero;
        var c40 = Vector256<float>.Zero; var c41 = Vector256<float>.Zero;
        var c50 = Vector256<float>.Zero; var c51 = Vector256<float>.Zero;
        for (var p = 0; p < kc; p++)
        {
            var b0 = Vector256.Load(b + 0);
            var b1 = Vector256.Load(b + 8);
            var a0 = Vector256.Create(a[0]);
            c00 = Vector256.FusedMultiplyAdd(a0, b0, c00);
            c01 = Vector256.FusedMultiplyAdd(a0, b1, c01);
            var a1 = Vector256.Create(a[1]);
            c10 = Vector256.FusedMultiplyAdd(a1, b0, c10);
            c11 = Vector256.FusedMultiplyAdd(a1, b1, c11);
            var a2 = Vector256.Create(a[2]);
            c20 = Vector256.FusedMultiplyAdd(a2, b0, c20);
            c21 = Vector256.FusedMultiplyAdd(a2, b1, c21);
            var a3 = Vector256.Create(a[3]);
            c30 = Vector256.FusedMultiplyAdd(a3, b0, c30);
            c31 = Vector256.FusedMultiplyAdd(a3, b1, c31);
            var a4 = Vector256.Create(a[4]);
            c40 = Vector256.FusedMultiplyAdd(a4, b0, c40);
            c41 = Vector256.FusedMultiplyAdd(a4, b1, c41);
            var a5 = Vector256.Create(a[5]);
            c50 = Vector256.FusedMultiplyAdd(a5, b0, c50);
            c51 = Vector256.FusedMultiplyAdd(a5, b1, c51);
            a += 6;
            b += 16;
        }
        if (accumulate)
        {
            c00 += Vector256.Load(c + 0L * ldc + 0);
            c01 += Vector256.Load(c + 0L * ldc + 8);
            c10 += Vector256.Load(c + 1L * ldc + 0);
            c11 += Vector256.Load(c + 1L * ldc + 8);
            c20 += Vector256.Load(c + 2L * ldc + 0);
            c21 += Vector256.Load(c + 2L * ldc + 8);
            c30 += Vector256.Load(c + 3L * ldc + 0);
            c31 += Vector256.Load(c + 3L * ldc + 8);
            c40 += Vector256.Load(c + 4L * ldc + 0);
            c41 += Vector256.Load(c + 4L * ldc + 8);
            c50 += Vector256.Load(c + 5L * ldc + 0);
            c51 += Vector256.Load(c + 5L * ldc + 8);
        }
        Vector256.Store(c00, c + 0L * ldc + 0);
        Vector256.Store(c01, c + 0L * ldc + 8);
        Vector256.Store(c10, c + 1L * ldc + 0);
        Vector256.Store(c11, c + 1L * ldc + 8);
        Vector256.Store(c20, c + 2L * ldc + 0);
        Vector256.Store(c21, c + 2L * ldc + 8);
        Vector256.Store(c30, c + 3L * ldc + 0);
        Vector256.Store(c31, c + 3L * ldc + 8);
        Vector256.Store(c40, c + 4L * ldc + 0);
        Vector256.Store(c41, c + 4L * ldc + 8);
        Vector256.Store(c50, c + 5L * ldc + 0);
        Vector256.Store(c51, c + 5L * ldc + 8);
    }

    /// <summary>C[6×8] (+)= Apanel · left half of Bpanel (panel stride stays 16).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Half(int kc, float* a, float* b, float* c, int ldc, bool accumulate)
    {
        var c00 = Vector256<float>.Zero;
        var c10 = Vector256<float>.Zero;
        var c20 = Vector256<float>.Zero;
        var c30 = Vector256<float>.Zero;
        var c40 = Vector256<float>.Zero;
        var c50 = Vector256<float>.Zero;
        for (var p = 0; p < kc; p++)
        {
            var b0 = Vector256.Load(b + 0);
            var a0 = Vector256.Create(a[0]);
            c00 = Vector256.FusedMultiplyAdd(a0, b0, c00);
            var a1 = Vector256.Create(a[1]);
            c10 = Vector256.FusedMultiplyAdd(a1, b0, c10);
            var a2 = Vector256.Create(a[2]);
            c20 = Vector256.FusedMultiplyAdd(a2, b0, c20);
            var a3 = Vector256.Create(a[3]);
            c30 = Vector256.FusedMultiplyAdd(a3, b0, c30);
            var a4 = Vector256.Create(a[4]);
            c40 = Vector256.FusedMultiplyAdd(a4, b0, c40);
            var a5 = Vector256.Create(a[5]);
            c50 = Vector256.FusedMultiplyAdd(a5, b0, c50);
            a += 6;
            b += 16;
        }
        if (accumulate)
        {
            c00 += Vector256.Load(c + 0L * ldc + 0);
            c10 += Vector256.Load(c + 1L * ldc + 0);
            c20 += Vector256.Load(c + 2L * ldc + 0);
            c30 += Vector256.Load(c + 3L * ldc + 0);
            c40 += Vector256.Load(c + 4L * ldc + 0);
            c50 += Vector256.Load(c + 5L * ldc + 0);
        }
        Vector256.Store(c00, c + 0L * ldc + 0);
        Vector256.Store(c10, c + 1L * ldc + 0);
        Vector256.Store(c20, c + 2L * ldc + 0);
        Vector256.Store(c30, c + 3L * ldc + 0);
        Vector256.Store(c40, c + 4L * ldc + 0);
        Vector256.Store(c50, c + 5L * ldc + 0);
    }
}

/// <summary>4 × 4 scalar tile: the fallback when the CPU has no usable vectors.</summary>
internal readonly unsafe struct KernelScalar : IMicroKernel
{
    public const int Mr = 4;
    public const int Nr = 4;

    static int IMicroKernel.Mr => Mr;

    static int IMicroKernel.Nr => Nr;

    static bool IMicroKernel.HasMasked => false;

    public static void Masked(int kc, float* a, float* b, float* c, int ldc, bool accumulate, int cols) =>
        throw new NotSupportedException("column edges of this kernel go through the tile buffer");

    /// <summary>C[4×4] (+)= Apanel · Bpanel.</summary>
    public static void Full(int kc, float* a, float* b, float* c, int ldc, bool accumulate)
    {
        var c00 = 0f; var c01 = 0f; var c02 = 0f; var c03 = 0f;
        var c10 = 0f; var c11 = 0f; var c12 = 0f; var c13 = 0f;
        var c20 = 0f; var c21 = 0f; var c22 = 0f; var c23 = 0f;
        var c30 = 0f; var c31 = 0f; var c32 = 0f; var c33 = 0f;
        for (var p = 0; p < kc; p++)
        {
            var b0 = b[0];
            var b1 = b[1];
            var b2 = b[2];
            var b3 = b[3];
            var a0 = a[0];
            c00 += a0 * b0; c01 += a0 * b1; c02 += a0 * b2; c03 += a0 * b3;
            var a1 = a[1];
            c10 += a1 * b0; c11 += a1 * b1; c12 += a1 * b2; c13 += a1 * b3;
            var a2 = a[2];
            c20 += a2 * b0; c21 += a2 * b1; c22 += a2 * b2; c23 += a2 * b3;
            var a3 = a[3];
            c30 += a3 * b0; c31 += a3 * b1; c32 += a3 * b2; c33 += a3 * b3;
            a += 4;
            b += 4;
        }
        if (accumulate)
        {
            c00 += c[0L * ldc + 0]; c01 += c[0L * ldc + 1]; c02 += c[0L * ldc + 2]; c03 += c[0L * ldc + 3];
            c10 += c[1L * ldc + 0]; c11 += c[1L * ldc + 1]; c12 += c[1L * ldc + 2]; c13 += c[1L * ldc + 3];
            c20 += c[2L * ldc + 0]; c21 += c[2L * ldc + 1]; c22 += c[2L * ldc + 2]; c23 += c[2L * ldc + 3];
            c30 += c[3L * ldc + 0]; c31 += c[3L * ldc + 1]; c32 += c[3L * ldc + 2]; c33 += c[3L * ldc + 3];
        }
        c[0L * ldc + 0] = c00; c[0L * ldc + 1] = c01; c[0L * ldc + 2] = c02; c[0L * ldc + 3] = c03;
        c[1L * ldc + 0] = c10; c[1L * ldc + 1] = c11; c[1L * ldc + 2] = c12; c[1L * ldc + 3] = c13;
        c[2L * ldc + 0] = c20; c[2L * ldc + 1] = c21; c[2L * ldc + 2] = c22; c[2L * ldc + 3] = c23;
        c[3L * ldc + 0] = c30; c[3L * ldc + 1] = c31; c[3L * ldc + 2] = c32; c[3L * ldc + 3] = c33;
    }

    /// <summary>C[4×2] (+)= Apanel · left half of Bpanel.</summary>
    public static void Half(int kc, float* a, float* b, float* c, int ldc, bool accumulate)
    {
        var c00 = 0f; var c01 = 0f;
        var c10 = 0f; var c11 = 0f;
        var c20 = 0f; var c21 = 0f;
        var c30 = 0f; var c31 = 0f;
        for (var p = 0; p < kc; p++)
        {
            var b0 = b[0];
            var b1 = b[1];
            var a0 = a[0];
            c00 += a0 * b0; c01 += a0 * b1;
            var a1 = a[1];
            c10 += a1 * b0; c11 += a1 * b1;
            var a2 = a[2];
            c20 += a2 * b0; c21 += a2 * b1;
            var a3 = a[3];
            c30 += a3 * b0; c31 += a3 * b1;
            a += 4;
            b += 4;
        }
        if (accumulate)
        {
            c00 += c[0L * ldc + 0]; c01 += c[0L * ldc + 1];
            c10 += c[1L * ldc + 0]; c11 += c[1L * ldc + 1];
            c20 += c[2L * ldc + 0]; c21 += c[2L * ldc + 1];
            c30 += c[3L * ldc + 0]; c31 += c[3L * ldc + 1];
        }
        c[0L * ldc + 0] = c00; c[0L * ldc + 1] = c01;
        c[1L * ldc + 0] = c10; c[1L * ldc + 1] = c11;
        c[2L * ldc + 0] = c20; c[2L * ldc + 1] = c21;
        c[3L * ldc + 0] = c30; c[3L * ldc + 1] = c31;
    }
}
