using System.Numerics;
using DistTrainer.Actors.Messages;

namespace DistTrainer.Actors.Transfer;

/// <summary>A complete, validated tensor as its ordered, contiguous pieces. Reading it allocates nothing.</summary>
public readonly struct ReceivedTensor
{
    private readonly TensorChunk[] _chunks;

    internal ReceivedTensor(TensorChunk[] chunks) => _chunks = chunks;

    public int Length => _chunks is null ? 0 : _chunks.Sum(c => c.Data.Length);

    /// <summary>
    /// The whole tensor as one array when it came in one piece (inline, or over the bulk channel), else null. Like the
    /// tensor itself, valid only until the next call to the assembler that produced it.
    /// </summary>
    public float[]? Contiguous => _chunks is [{ Offset: 0 } only] ? only.Data : null;

    public void CopyTo(Span<float> destination)
    {
        foreach (var chunk in _chunks)
        {
            chunk.Data.CopyTo(destination.Slice(chunk.Offset, chunk.Data.Length));
        }
    }

    /// <summary>destination += tensor.</summary>
    public void AddTo(Span<float> destination)
    {
        foreach (var chunk in _chunks)
        {
            // Cached stores: TensorPrimitives streams results above 256 KB, and the sum is read again at once.
            DistTrainer.Numerics.Kernels.ElementWise.Add(chunk.Data, destination.Slice(chunk.Offset, chunk.Data.Length));
        }
    }

    /// <summary>True when no value is NaN or ±Infinity.</summary>
    public bool AllFinite()
    {
        foreach (var chunk in _chunks)
        {
            if (!IsFinite(chunk.Data))
            {
                return false;
            }
        }
        return true;
    }

    /// <summary>x·0 is 0 for every finite x and NaN for NaN/±Inf, so the sum of x·0 is 0 exactly when all are finite.</summary>
    public static bool IsFinite(ReadOnlySpan<float> values)
    {
        var i = 0;
        var acc = Vector<float>.Zero;
        for (; i <= values.Length - Vector<float>.Count; i += Vector<float>.Count)
        {
            acc += new Vector<float>(values[i..]) * Vector<float>.Zero;
        }
        var scalar = Vector.Sum(acc);
        for (; i < values.Length; i++)
        {
            scalar += values[i] * 0f;
        }
        return scalar == 0f;
    }
}
