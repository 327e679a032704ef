namespace DistTrainer.Numerics.Kernels;

/// <summary>
/// Per-thread packing buffers for <see cref="Gemm"/>: pinned, 64-byte aligned, allocated on a thread's first
/// product and reused for the life of the thread, so concurrent callers never share them.
/// </summary>
internal sealed unsafe class GemmScratch
{
    [ThreadStatic]
    private static GemmScratch? _current;

    private const int Alignment = 64;
    private const int TileFloats = 16 * 64;

    // Kept only to hold the pinned memory alive; all access goes through the aligned pointers.
    private readonly float[] _memory;

    private GemmScratch()
    {
        var aFloats = (long)Gemm.KcMax * (Gemm.McMax + 32);
        var bFloats = (long)Gemm.KcMax * (Gemm.NcMax + 32);
        var total = aFloats + bFloats + TileFloats + 3 * Alignment / sizeof(float);
        _memory = GC.AllocateUninitializedArray<float>((int)total, pinned: true);
        fixed (float* start = _memory)
        {
            var p = Align(start);
            A = p;
            B = Align(p + aFloats);
            Tile = Align(B + bFloats);
        }
    }

    public static GemmScratch Current => _current ??= new GemmScratch();

    /// <summary>Packed (MC × KC) block of A.</summary>
    public float* A { get; }

    /// <summary>Packed (KC × NC) block of B.</summary>
    public float* B { get; }

    /// <summary>One MR × NR tile for edges.</summary>
    public float* Tile { get; }

    private static float* Align(float* p) => (float*)(((nuint)p + Alignment - 1) & ~(nuint)(Alignment - 1));
}
