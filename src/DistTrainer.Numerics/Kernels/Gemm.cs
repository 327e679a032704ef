using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace DistTrainer.Numerics.Kernels;

/// <summary>Which microkernel a product runs on; tests force each one, production uses <see cref="Auto"/>.</summary>
internal enum GemmPath
{
    Auto,
    Vector512,
    Vector256,
    Scalar,
}

/// <summary>
/// Fast single-precision matrix products for the three shapes an MLP needs:
/// forward Y = X·W (NN), weight gradient dW = Xᵀ·dY (TN) and input gradient dX = dY·Wᵀ (NT).
/// Row-major, contiguous. Thread-safe: concurrent callers never share scratch memory.
/// <paramref name="threads"/> &gt; 1 splits the work across that many cores. On one thread,
/// <c>idleThreadsMayHelp</c> lets threads idling in <see cref="SpareThreads.Help"/> take row blocks of a large product.
/// </summary>
/// <remarks>
/// A blocked product in the GotoBLAS/BLIS layout: for each (KC × NC) block of B, packed into NR-wide
/// column panels, and each (MC × KC) block of A, packed into MR-tall row panels, a register-tiled
/// microkernel computes MR × NR tiles of C with FMA. Packing handles the transposes, so the three
/// products share one microkernel. Edges are zero-padded in the packed panels and written through a
/// small tile buffer. Scratch is per thread, allocated once. C must not overlap A or B.
/// The hot methods are AggressiveOptimization: fully optimized on the first call, so a short-lived process
/// never runs tier-0 packing loops (where the inlining helpers become calls).
/// </remarks>
public static unsafe class Gemm
{
    // Depth of a packed block; the B micro-panel (KC × NR) stays in L1 while A panels stream past it.
    internal const int KcMax = 256;
    // Rows of A per packed block: (MC × KC) stays in L2. A multiple of every MR.
    internal const int McMax = 144;
    // Columns of B per packed block: (KC × NC) stays in L2 next to the A block.
    internal const int NcMax = 512;
    // Below this many flops per part, waking another thread costs more than it saves.
    private const long MinFlopsPerPart = 1L << 20;
    // Rows of C per part of a product idle threads may help with: about 20 µs of work at k = 128, n = 256, so a
    // helper that turns up late still finds parts left. A multiple of every MR.
    private const int HelpedMc = 48;
    // Smaller products run whole: a helper could save less than the claims cost.
    private const long MinHelpedFlops = 8L << 20;

    /// <summary>C(m,n) (+)= A(m,k) · B(k,n).</summary>
    public static void MultiplyNN(int m, int n, int k, ReadOnlySpan<float> a, ReadOnlySpan<float> b, Span<float> c, bool accumulate, int threads = 1,
        bool idleThreadsMayHelp = false)
        => Multiply(false, false, m, n, k, a, b, c, accumulate, threads, GemmPath.Auto, idleThreadsMayHelp);

    /// <summary>C(m,n) (+)= A(k,m)ᵀ · B(k,n).</summary>
    public static void MultiplyTN(int m, int n, int k, ReadOnlySpan<float> a, ReadOnlySpan<float> b, Span<float> c, bool accumulate, int threads = 1,
        bool idleThreadsMayHelp = false)
        => Multiply(true, false, m, n, k, a, b, c, accumulate, threads, GemmPath.Auto, idleThreadsMayHelp);

    /// <summary>C(m,n) (+)= A(m,k) · B(n,k)ᵀ.</summary>
    public static void MultiplyNT(int m, int n, int k, ReadOnlySpan<float> a, ReadOnlySpan<float> b, Span<float> c, bool accumulate, int threads = 1,
        bool idleThreadsMayHelp = false)
        => Multiply(false, true, m, n, k, a, b, c, accumulate, threads, GemmPath.Auto, idleThreadsMayHelp);

    /// <summary>The path <see cref="GemmPath.Auto"/> resolves to on this machine.</summary>
    internal static GemmPath BestPath =>
        Vector512.IsHardwareAccelerated ? GemmPath.Vector512
        : Vector256.IsHardwareAccelerated && Fma.IsSupported ? GemmPath.Vector256
        : GemmPath.Scalar;

    /// <summary>C(m,n) (+)= op(A) · op(B) on a chosen path: the one entry point behind the public products.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static void Multiply(bool transA, bool transB, int m, int n, int k, ReadOnlySpan<float> a, ReadOnlySpan<float> b, Span<float> c,
        bool accumulate, int threads, GemmPath path, bool idleThreadsMayHelp = false)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(m);
        ArgumentOutOfRangeException.ThrowIfNegative(n);
        ArgumentOutOfRangeException.ThrowIfNegative(k);
        if (a.Length < (long)m * k)
        {
            throw new ArgumentException($"A needs {(long)m * k} elements for {m}x{k}, got {a.Length}.", nameof(a));
        }
        if (b.Length < (long)k * n)
        {
            throw new ArgumentException($"B needs {(long)k * n} elements for {k}x{n}, got {b.Length}.", nameof(b));
        }
        if (c.Length < (long)m * n)
        {
            throw new ArgumentException($"C needs {(long)m * n} elements for {m}x{n}, got {c.Length}.", nameof(c));
        }
        if (m == 0 || n == 0)
        {
            return;
        }
        if (k == 0)
        {
            if (!accumulate)
            {
                c[..(m * n)].Clear();
            }
            return;
        }
        // A path this CPU cannot run (or Auto) becomes the best one it can.
        if (path == GemmPath.Auto || path < BestPath)
        {
            path = BestPath;
        }

        fixed (float* pa = a, pb = b, pc = c)
        {
            var job = new Job
            {
                A = pa,
                B = pb,
                C = pc,
                M = m,
                N = n,
                K = k,
                TransA = transA,
                TransB = transB,
                Accumulate = accumulate,
                Path = path,
            };
            var (mr, nr) = TileOf(path);
            var parts = PlanParts(ref job, threads, mr, nr);
            if (parts <= 1 && idleThreadsMayHelp && 2L * m * n * k >= MinHelpedFlops && m > HelpedMc)
            {
                RunHelped(&job, mr, nr);
            }
            else if (parts <= 1)
            {
                RunRange(ref job, 0, m, 0, n);
            }
            else
            {
                ComputePool.Shared.Run(parts, &RunPart, &job);
            }
        }
    }

    private static (int Mr, int Nr) TileOf(GemmPath path) => path switch
    {
        GemmPath.Vector512 => (Kernel512.Mr, Kernel512.Nr),
        GemmPath.Vector256 => (Kernel256.Mr, Kernel256.Nr),
        _ => (KernelScalar.Mr, KernelScalar.Nr),
    };

    /// <summary>
    /// Splits C into blocks of whole tiles: along n when A is the smaller operand (each part re-packs A),
    /// along m otherwise (each part re-packs B).
    /// </summary>
    private static int PlanParts(ref Job job, int threads, int mr, int nr)
    {
        if (threads <= 1)
        {
            return 1;
        }
        var flops = 2L * job.M * job.N * job.K;
        var parts = (int)Math.Min(Math.Min(threads, ComputePool.MaxWorkers + 1), Math.Max(1, flops / MinFlopsPerPart));
        var nTiles = (job.N + nr - 1) / nr;
        var mTiles = (job.M + mr - 1) / mr;
        job.SplitN = nTiles >= parts && (job.M <= job.N || mTiles < parts);
        var tiles = job.SplitN ? nTiles : mTiles;
        parts = Math.Min(parts, tiles);
        job.Parts = parts;
        return parts;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void RunPart(void* context, int part)
    {
        ref var job = ref Unsafe.AsRef<Job>(context);
        var (mr, nr) = TileOf(job.Path);
        var step = job.SplitN ? nr : mr;
        var extent = job.SplitN ? job.N : job.M;
        var tiles = (extent + step - 1) / step;
        var from = Math.Min(extent, (int)((long)tiles * part / job.Parts) * step);
        var to = Math.Min(extent, (int)((long)tiles * (part + 1) / job.Parts) * step);
        if (from >= to)
        {
            return;
        }
        if (job.SplitN)
        {
            RunRange(ref job, 0, job.M, from, to);
        }
        else
        {
            RunRange(ref job, from, to, 0, job.N);
        }
    }

    /// <summary>
    /// The one-thread product, with its row blocks open to idle threads: for each packed block of B (packed once, by
    /// the caller), the row blocks of C run as parts of <see cref="ComputePool.RunWithSpareThreads"/>, each packing its
    /// own block of A and reading the caller's B. Every element of C sees the same operations in the same order as in
    /// <see cref="Blocked{TKernel}"/>, so the result is the same bit for bit, whoever runs which block.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void RunHelped(Job* job, int mr, int nr)
    {
        var packB = GemmScratch.Current.B;
        var kc0 = CeilDiv(job->K, CeilDiv(job->K, KcMax));
        var nc0 = RoundUp(CeilDiv(job->N, CeilDiv(job->N, NcMax)), nr);
        job->Mc = RoundUp(CeilDiv(job->M, CeilDiv(job->M, HelpedMc)), mr);
        job->PackedB = packB;
        var blocks = CeilDiv(job->M, job->Mc);
        for (var jc = 0; jc < job->N; jc += nc0)
        {
            var nc = Math.Min(nc0, job->N - jc);
            for (var pc = 0; pc < job->K; pc += kc0)
            {
                var kc = Math.Min(kc0, job->K - pc);
                PackB(ref *job, pc, kc, jc, nc, nr, packB);
                (job->Jc, job->Nc, job->Pc, job->Kc) = (jc, nc, pc, kc);
                ComputePool.Shared.RunWithSpareThreads(blocks, &RunRowBlock, job);
            }
        }
    }

    /// <summary>Rows [part·Mc, +Mc) of C against the packed block of B that <see cref="RunHelped"/> names.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void RunRowBlock(void* context, int part)
    {
        ref var job = ref Unsafe.AsRef<Job>(context);
        var ic = part * job.Mc;
        var mc = Math.Min(job.Mc, job.M - ic);
        var scratch = GemmScratch.Current;
        var accumulate = job.Accumulate || job.Pc > 0;
        switch (job.Path)
        {
            case GemmPath.Vector512:
                RowBlock<Kernel512>(ref job, ic, mc, job.Jc, job.Nc, job.Pc, job.Kc, scratch.A, job.PackedB, scratch.Tile, accumulate);
                break;
            case GemmPath.Vector256:
                RowBlock<Kernel256>(ref job, ic, mc, job.Jc, job.Nc, job.Pc, job.Kc, scratch.A, job.PackedB, scratch.Tile, accumulate);
                break;
            default:
                RowBlock<KernelScalar>(ref job, ic, mc, job.Jc, job.Nc, job.Pc, job.Kc, scratch.A, job.PackedB, scratch.Tile, accumulate);
                break;
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void RunRange(ref Job job, int i0, int i1, int j0, int j1)
    {
        switch (job.Path)
        {
            case GemmPath.Vector512:
                Blocked<Kernel512>(ref job, i0, i1, j0, j1);
                break;
            case GemmPath.Vector256:
                Blocked<Kernel256>(ref job, i0, i1, j0, j1);
                break;
            default:
                Blocked<KernelScalar>(ref job, i0, i1, j0, j1);
                break;
        }
    }

    /// <summary>The block loops around the microkernel for rows [i0, i1) and columns [j0, j1) of C.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Blocked<TKernel>(ref Job job, int i0, int i1, int j0, int j1) where TKernel : struct, IMicroKernel
    {
        var mr = TKernel.Mr;
        var nr = TKernel.Nr;
        var scratch = GemmScratch.Current;
        var packA = scratch.A;
        var packB = scratch.B;
        var tile = scratch.Tile;
        var k = job.K;

        // Equal blocks rather than full blocks plus a sliver.
        var kc0 = CeilDiv(k, CeilDiv(k, KcMax));
        var mLen = i1 - i0;
        var mc0 = RoundUp(CeilDiv(mLen, CeilDiv(mLen, McMax)), mr);
        var nLen = j1 - j0;
        var nc0 = RoundUp(CeilDiv(nLen, CeilDiv(nLen, NcMax)), nr);

        for (var jc = j0; jc < j1; jc += nc0)
        {
            var nc = Math.Min(nc0, j1 - jc);
            for (var pc = 0; pc < k; pc += kc0)
            {
                var kc = Math.Min(kc0, k - pc);
                var accumulate = job.Accumulate || pc > 0;
                PackB(ref job, pc, kc, jc, nc, nr, packB);
                for (var ic = i0; ic < i1; ic += mc0)
                {
                    RowBlock<TKernel>(ref job, ic, Math.Min(mc0, i1 - ic), jc, nc, pc, kc, packA, packB, tile, accumulate);
                }
            }
        }
    }

    /// <summary>Packs rows [ic, ic+mc) of op(A) at depth [pc, pc+kc) and multiplies them by the packed block of B into C.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void RowBlock<TKernel>(ref Job job, int ic, int mc, int jc, int nc, int pc, int kc, float* packA, float* packB, float* tile,
        bool accumulate) where TKernel : struct, IMicroKernel
    {
        var mr = TKernel.Mr;
        var nr = TKernel.Nr;
        var ldc = job.N;
        PackA(ref job, ic, mc, pc, kc, mr, packA);
        for (var jr = 0; jr < nc; jr += nr)
        {
            var cols = Math.Min(nr, nc - jr);
            var bPanel = packB + (long)jr * kc;
            var half = cols * 2 <= nr;
            for (var ir = 0; ir < mc; ir += mr)
            {
                var rows = Math.Min(mr, mc - ir);
                var aPanel = packA + (long)ir * kc;
                var cTile = job.C + (long)(ic + ir) * ldc + jc + jr;
                if (rows == mr && cols == nr)
                {
                    TKernel.Full(kc, aPanel, bPanel, cTile, ldc, accumulate);
                }
                else if (rows == mr && cols * 2 == nr)
                {
                    TKernel.Half(kc, aPanel, bPanel, cTile, ldc, accumulate);
                }
                else if (rows == mr && TKernel.HasMasked)
                {
                    TKernel.Masked(kc, aPanel, bPanel, cTile, ldc, accumulate, cols);
                }
                else
                {
                    if (half)
                    {
                        TKernel.Half(kc, aPanel, bPanel, tile, nr, false);
                    }
                    else
                    {
                        TKernel.Full(kc, aPanel, bPanel, tile, nr, false);
                    }
                    StoreEdge(tile, nr, cTile, ldc, rows, cols, accumulate);
                }
            }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void StoreEdge(float* tile, int nr, float* c, int ldc, int rows, int cols, bool accumulate)
    {
        for (var i = 0; i < rows; i++)
        {
            var src = tile + (long)i * nr;
            var dst = c + (long)i * ldc;
            if (accumulate)
            {
                for (var j = 0; j < cols; j++)
                {
                    dst[j] += src[j];
                }
            }
            else
            {
                new ReadOnlySpan<float>(src, cols).CopyTo(new Span<float>(dst, cols));
            }
        }
    }

    /// <summary>
    /// Packs op(A)[ic..ic+mc, pc..pc+kc] as row panels: panel r holds, for each p, the MR values
    /// op(A)[ic + r·MR + i, pc + p] contiguously; rows past the edge are zero.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void PackA(ref Job job, int ic, int mc, int pc, int kc, int mr, float* dst)
    {
        for (var ir = 0; ir < mc; ir += mr)
        {
            var rows = Math.Min(mr, mc - ir);
            var panel = dst + (long)ir * kc;
            if (job.TransA)
            {
                // A is stored (k, m): the MR values for one p are contiguous.
                var src = job.A + (long)pc * job.M + ic + ir;
                for (var p = 0; p < kc; p++)
                {
                    CopyPadded(src + (long)p * job.M, panel + (long)p * mr, rows, mr);
                }
            }
            else
            {
                // A is stored (m, k): a transpose. Full 8-row panels go 8×8 blocks at a time.
                var src0 = job.A + (long)(ic + ir) * job.K + pc;
                var p0 = 0;
                if (mr == 8 && rows == 8 && Avx.IsSupported)
                {
                    for (; p0 <= kc - 8; p0 += 8)
                    {
                        Transpose8x8(src0 + p0, job.K, panel + (long)p0 * 8, 8);
                    }
                }
                for (var i = 0; i < rows; i++)
                {
                    var src = src0 + (long)i * job.K;
                    var d = panel + i;
                    for (var p = p0; p < kc; p++)
                    {
                        d[(long)p * mr] = src[p];
                    }
                }
                for (var i = rows; i < mr; i++)
                {
                    for (var p = 0; p < kc; p++)
                    {
                        panel[(long)p * mr + i] = 0f;
                    }
                }
            }
        }
    }

    /// <summary>
    /// Packs op(B)[pc..pc+kc, jc..jc+nc] as column panels: panel r holds, for each p, the NR values
    /// op(B)[pc + p, jc + r·NR + j] contiguously; columns past the edge are zero.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void PackB(ref Job job, int pc, int kc, int jc, int nc, int nr, float* dst)
    {
        for (var jr = 0; jr < nc; jr += nr)
        {
            var cols = Math.Min(nr, nc - jr);
            var panel = dst + (long)jr * kc;
            if (!job.TransB)
            {
                // B is stored (k, n): the NR values for one p are contiguous.
                var src = job.B + (long)pc * job.N + jc + jr;
                for (var p = 0; p < kc; p++)
                {
                    CopyPadded(src + (long)p * job.N, panel + (long)p * nr, cols, nr);
                }
            }
            else
            {
                // B is stored (n, k): a transpose, 8×8 blocks at a time where 8 columns and 8 steps remain.
                var j = 0;
                if (Avx.IsSupported && nr % 8 == 0)
                {
                    for (; j <= cols - 8; j += 8)
                    {
                        var src = job.B + (long)(jc + jr + j) * job.K + pc;
                        var p = 0;
                        for (; p <= kc - 8; p += 8)
                        {
                            Transpose8x8(src + p, job.K, panel + (long)p * nr + j, nr);
                        }
                        for (var jj = j; jj < j + 8; jj++)
                        {
                            var s = job.B + (long)(jc + jr + jj) * job.K + pc;
                            for (var q = p; q < kc; q++)
                            {
                                panel[(long)q * nr + jj] = s[q];
                            }
                        }
                    }
                }
                for (; j < cols; j++)
                {
                    var src = job.B + (long)(jc + jr + j) * job.K + pc;
                    var d = panel + j;
                    for (var p = 0; p < kc; p++)
                    {
                        d[(long)p * nr] = src[p];
                    }
                }
                for (; j < nr; j++)
                {
                    for (var p = 0; p < kc; p++)
                    {
                        panel[(long)p * nr + j] = 0f;
                    }
                }
            }
        }
    }

    /// <summary>Copies <paramref name="count"/> floats and zero-fills up to <paramref name="width"/> (a multiple of 8).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void CopyPadded(float* src, float* dst, int count, int width)
    {
        var i = 0;
        if (Avx512F.IsSupported)
        {
            // Masked loads read only the lanes that exist and zero the rest, so the padding costs nothing extra.
            for (; i <= width - 16; i += 16)
            {
                var lanes = count - i;
                var v = lanes >= 16 ? Vector512.Load(src + i)
                    : lanes <= 0 ? Vector512<float>.Zero
                    : Avx512F.MaskLoad(src + i, Vector512.LessThan(Vector512<int>.Indices, Vector512.Create(lanes)).AsSingle(), Vector512<float>.Zero);
                Vector512.Store(v, dst + i);
            }
            if (i < width)
            {
                var lanes = count - i;
                var v = lanes >= 8 ? Vector256.Load(src + i)
                    : lanes <= 0 ? Vector256<float>.Zero
                    : Avx.MaskLoad(src + i, Vector256.LessThan(Vector256<int>.Indices, Vector256.Create(lanes)).AsSingle());
                Vector256.Store(v, dst + i);
            }
            return;
        }
        if (Vector256.IsHardwareAccelerated)
        {
            for (; i <= count - 8; i += 8)
            {
                Vector256.Store(Vector256.Load(src + i), dst + i);
            }
        }
        for (; i < count; i++)
        {
            dst[i] = src[i];
        }
        for (; i < width; i++)
        {
            dst[i] = 0f;
        }
    }

    /// <summary>dst[c·dstStride + r] = src[r·srcStride + c] for an 8 × 8 block (the classic AVX unpack/shuffle/permute transpose).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Transpose8x8(float* src, long srcStride, float* dst, long dstStride)
    {
        var r0 = Avx.LoadVector256(src);
        var r1 = Avx.LoadVector256(src + srcStride);
        var r2 = Avx.LoadVector256(src + 2 * srcStride);
        var r3 = Avx.LoadVector256(src + 3 * srcStride);
        var r4 = Avx.LoadVector256(src + 4 * srcStride);
        var r5 = Avx.LoadVector256(src + 5 * srcStride);
        var r6 = Avx.LoadVector256(src + 6 * srcStride);
        var r7 = Avx.LoadVector256(src + 7 * srcStride);
        var t0 = Avx.UnpackLow(r0, r1);
        var t1 = Avx.UnpackHigh(r0, r1);
        var t2 = Avx.UnpackLow(r2, r3);
        var t3 = Avx.UnpackHigh(r2, r3);
        var t4 = Avx.UnpackLow(r4, r5);
        var t5 = Avx.UnpackHigh(r4, r5);
        var t6 = Avx.UnpackLow(r6, r7);
        var t7 = Avx.UnpackHigh(r6, r7);
        var u0 = Avx.Shuffle(t0, t2, 0x44);
        var u1 = Avx.Shuffle(t0, t2, 0xEE);
        var u2 = Avx.Shuffle(t1, t3, 0x44);
        var u3 = Avx.Shuffle(t1, t3, 0xEE);
        var u4 = Avx.Shuffle(t4, t6, 0x44);
        var u5 = Avx.Shuffle(t4, t6, 0xEE);
        var u6 = Avx.Shuffle(t5, t7, 0x44);
        var u7 = Avx.Shuffle(t5, t7, 0xEE);
        Avx.Store(dst, Avx.Permute2x128(u0, u4, 0x20));
        Avx.Store(dst + dstStride, Avx.Permute2x128(u1, u5, 0x20));
        Avx.Store(dst + 2 * dstStride, Avx.Permute2x128(u2, u6, 0x20));
        Avx.Store(dst + 3 * dstStride, Avx.Permute2x128(u3, u7, 0x20));
        Avx.Store(dst + 4 * dstStride, Avx.Permute2x128(u0, u4, 0x31));
        Avx.Store(dst + 5 * dstStride, Avx.Permute2x128(u1, u5, 0x31));
        Avx.Store(dst + 6 * dstStride, Avx.Permute2x128(u2, u6, 0x31));
        Avx.Store(dst + 7 * dstStride, Avx.Permute2x128(u3, u7, 0x31));
    }

    private static int CeilDiv(int x, int y) => (x + y - 1) / y;

    private static int RoundUp(int x, int multiple) => CeilDiv(x, multiple) * multiple;

    /// <summary>One product, shared by the parts that compute it.</summary>
    private struct Job
    {
        public float* A;
        public float* B;
        public float* C;
        public int M;
        public int N;
        public int K;
        public bool TransA;
        public bool TransB;
        public bool Accumulate;
        public bool SplitN;
        public int Parts;
        public GemmPath Path;

        // The packed block of B that a helped product's row blocks share (RunHelped).
        public float* PackedB;
        public int Mc;
        public int Jc;
        public int Nc;
        public int Pc;
        public int Kc;
    }
}
