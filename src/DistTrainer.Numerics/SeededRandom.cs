using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace DistTrainer.Numerics;

/// <summary>
/// A small, fast, fully specified random generator (SplitMix64). Results depend only on the seed, never on the
/// runtime version or the machine, so a seed reproduces a run anywhere.
/// </summary>
public struct SeededRandom
{
    private ulong _state;

    public SeededRandom(ulong seed) => _state = seed;

    /// <summary>A generator for one named stream of a run, e.g. (seed, epoch) for shuffling or (seed, step, sample) for sampling.</summary>
    public static SeededRandom For(long seed, long a, long b = 0) =>
        new(Mix((ulong)seed ^ Mix((ulong)a + 0x632BE59BD9B4E019UL) ^ Mix((ulong)b + 0x9E6C63D0676A9A99UL)));

    public ulong NextUInt64()
    {
        _state += 0x9E3779B97F4A7C15UL;
        return Mix(_state);
    }

    /// <summary>Uniform in [0, 1) with 24 random bits.</summary>
    public float NextFloat() => (NextUInt64() >> 40) * (1f / (1 << 24));

    /// <summary>
    /// Fills <paramref name="dest"/> with the next <see cref="NextFloat"/> values, exactly as that many calls would, 16 at
    /// a time with 512-bit vectors where the CPU has them (RBM sampling draws thousands per step).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public void FillFloats(Span<float> dest)
    {
        const ulong Golden = 0x9E3779B97F4A7C15UL;
        var i = 0;
        if (Vector512.IsHardwareAccelerated && dest.Length >= 16)
        {
            // Lane j of the two state vectors holds the state after j + 1 (and j + 9) more steps.
            var lanes = Vector512.Create(1UL, 2, 3, 4, 5, 6, 7, 8) * Golden;
            var low = Vector512.Create(_state) + lanes;
            var high = low + Vector512.Create(unchecked(8 * Golden));
            var advance = Vector512.Create(unchecked(16 * Golden));
            var scale = Vector512.Create(1f / (1 << 24));
            for (; i <= dest.Length - 16; i += 16)
            {
                var bits = Vector512.Narrow(MixBits(low), MixBits(high)).AsInt32();
                (Vector512.ConvertToSingle(bits) * scale).StoreUnsafe(ref MemoryMarshal.GetReference(dest), (nuint)i);
                low += advance;
                high += advance;
            }
            _state += unchecked((ulong)i * Golden);
        }
        for (; i < dest.Length; i++)
        {
            dest[i] = NextFloat();
        }
    }

    /// <summary>The top 24 bits of <see cref="Mix"/> per lane.</summary>
    private static Vector512<ulong> MixBits(Vector512<ulong> z)
    {
        z = (z ^ Vector512.ShiftRightLogical(z, 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ Vector512.ShiftRightLogical(z, 27)) * 0x94D049BB133111EBUL;
        z ^= Vector512.ShiftRightLogical(z, 31);
        return Vector512.ShiftRightLogical(z, 40);
    }

    /// <summary>Uniform in [0, 1) with 53 random bits.</summary>
    public double NextDouble() => (NextUInt64() >> 11) * (1.0 / (1UL << 53));

    /// <summary>Uniform integer in [0, bound).</summary>
    public int NextInt(int bound) => (int)((NextUInt64() >> 33) * (ulong)bound >> 31);

    /// <summary>Standard normal sample (Box–Muller).</summary>
    public float NextGaussian()
    {
        var u1 = 1.0 - NextDouble();
        var u2 = NextDouble();
        return (float)(Math.Sqrt(-2.0 * Math.Log(u1)) * Math.Cos(2.0 * Math.PI * u2));
    }

    /// <summary>Fisher–Yates shuffle in place.</summary>
    public void Shuffle(Span<int> values)
    {
        for (var i = values.Length - 1; i > 0; i--)
        {
            var j = NextInt(i + 1);
            (values[i], values[j]) = (values[j], values[i]);
        }
    }

    private static ulong Mix(ulong z)
    {
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }
}
