using System.Runtime.InteropServices;

namespace DistTrainer.Actors.Transfer;

/// <summary>
/// The chunks of one transfer as the bulk channel receives them: for each chunk sent, its index, offset and length,
/// in the order its values follow on the wire. <see cref="Check"/> applies the checks of <see cref="ChunkAssembler"/>
/// to the whole set before any value is read (a repeated or out-of-range chunk, an incomplete set, gaps or overlaps),
/// so a valid set can be read straight into one whole-tensor array. Reused by one reader: allocates only to grow.
/// </summary>
internal sealed class ChunkLayout
{
    private int[] _index = [];
    private int[] _offset = [];
    private int[] _length = [];
    private int[] _byIndex = [];
    private int _count;
    private int _sent;

    /// <summary>Starts a transfer of <paramref name="count"/> chunks of which <paramref name="sent"/> are on the wire.</summary>
    public void Reset(int count, int sent)
    {
        if (_byIndex.Length < count)
        {
            _index = new int[count];
            _offset = new int[count];
            _length = new int[count];
            _byIndex = new int[count];
        }
        _count = count;
        _sent = sent;
    }

    public void Set(int k, int index, int offset, int length)
    {
        _index[k] = index;
        _offset[k] = offset;
        _length[k] = length;
    }

    /// <summary>The floats on the wire after the layout; -1 if a length is negative.</summary>
    public long PayloadFloats()
    {
        var sum = 0L;
        for (var k = 0; k < _sent; k++)
        {
            if (_length[k] < 0)
            {
                return -1;
            }
            sum += _length[k];
        }
        return sum;
    }

    /// <summary>Null when the chunks cover a tensor of <paramref name="total"/> values exactly once, in index order; else why not.</summary>
    public string? Check(int total)
    {
        _byIndex.AsSpan(0, _count).Fill(-1);
        for (var k = 0; k < _sent; k++)
        {
            var (index, offset, length) = (_index[k], _offset[k], _length[k]);
            if (index < 0 || index >= _count)
            {
                return $"chunk index {index} is outside 0..{_count - 1}";
            }
            if (offset < 0 || length <= 0 || (long)offset + length > total)
            {
                return $"chunk {index} covers [{offset}, {(long)offset + length}) outside the tensor of {total}";
            }
            if (_byIndex[index] >= 0)
            {
                return $"chunk {index} arrived twice";
            }
            _byIndex[index] = k;
        }
        if (_sent < _count)
        {
            return $"incomplete, {_sent} of {_count} chunks (first missing: {Array.IndexOf(_byIndex, -1, 0, _count)})";
        }
        var expected = 0L;
        for (var index = 0; index < _count; index++)
        {
            var k = _byIndex[index];
            if (_offset[k] != expected)
            {
                return $"chunk {index} starts at {_offset[k]}, expected {expected} (gap or overlap)";
            }
            expected += _length[k];
        }
        return expected == total ? null : $"chunks cover {expected} values, expected {total}";
    }

    /// <summary>Reads the values of a checked layout into <paramref name="data"/>, adjacent chunks in one read.</summary>
    public void ReadInto(Stream stream, float[] data)
    {
        var k = 0;
        while (k < _sent)
        {
            var start = _offset[k];
            var end = start + _length[k++];
            while (k < _sent && _offset[k] == end)
            {
                end += _length[k++];
            }
            stream.ReadExactly(MemoryMarshal.AsBytes(data.AsSpan(start, end - start)));
        }
    }

    /// <summary>Reads past the values of a rejected layout.</summary>
    public void Skip(Stream stream)
    {
        Span<byte> discard = stackalloc byte[4096];
        var left = PayloadFloats() * sizeof(float);
        while (left > 0)
        {
            var n = (int)Math.Min(left, discard.Length);
            stream.ReadExactly(discard[..n]);
            left -= n;
        }
    }
}
