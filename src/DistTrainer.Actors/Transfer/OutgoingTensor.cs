using Akka.Actor;
using DistTrainer.Actors.Messages;

namespace DistTrainer.Actors.Transfer;

/// <summary>
/// A tensor ready to send: inline when it fits one chunk, otherwise split into <see cref="TensorChunk"/>s that go
/// out before the header message naming <see cref="TransferId"/>. The chunks are immutable once built, so a broadcast
/// sends the same chunk objects to every receiver.
/// The chunk arrays come from <see cref="ChunkArrayPool.Outgoing"/>. The sender calls <see cref="Release"/> once it has
/// made its last send; the arrays go back to the pool when, in addition, every bulk writer has written them. A chunk
/// that leaves by another path (Akka.Remote, an in-process receiver, or a caller reading <see cref="Chunks"/>) may be
/// read later by someone else, so such a tensor's arrays are left to the garbage collector.
/// </summary>
public sealed class OutgoingTensor
{
    private readonly TensorChunk[] _chunks;
    private int _holders = 1; // the sender, until Release
    private volatile bool _escaped;

    private OutgoingTensor(int length, long transferId, float[] inline, TensorChunk[] chunks)
    {
        Length = length;
        TransferId = transferId;
        Inline = inline;
        _chunks = chunks;
    }

    public int Length { get; }

    /// <summary>0 when the data is inline.</summary>
    public long TransferId { get; }

    /// <summary>The data for the header message's tensor field: the whole tensor, or empty when chunked.</summary>
    public float[] Inline { get; }

    /// <summary>The chunks, for a caller that delivers them itself (they are then never recycled).</summary>
    public IReadOnlyList<TensorChunk> Chunks
    {
        get
        {
            _escaped = true;
            return _chunks;
        }
    }

    /// <summary>The chunks for a bulk writer, which holds the tensor (<see cref="Hold"/>) until it has written them.</summary>
    internal IReadOnlyList<TensorChunk> ChunksToWrite => _chunks;

    internal int ChunkCount => _chunks.Length;

    /// <summary>Copies <paramref name="data"/> into message arrays; <paramref name="transferId"/> must be non-zero and unique per sender.</summary>
    public static OutgoingTensor Create(ReadOnlySpan<float> data, long transferId, int chunkFloats)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(chunkFloats, 1);
        if (data.Length <= chunkFloats)
        {
            return new OutgoingTensor(data.Length, 0, data.ToArray(), []);
        }
        ArgumentOutOfRangeException.ThrowIfZero(transferId);
        var count = (data.Length + chunkFloats - 1) / chunkFloats;
        var chunks = new TensorChunk[count];
        for (var i = 0; i < count; i++)
        {
            var offset = i * chunkFloats;
            var length = Math.Min(chunkFloats, data.Length - offset);
            var piece = ChunkArrayPool.Outgoing.Rent(length);
            data.Slice(offset, length).CopyTo(piece);
            chunks[i] = new TensorChunk(transferId, i, count, data.Length, offset, piece);
        }
        return new OutgoingTensor(data.Length, transferId, [], chunks);
    }

    /// <summary>Sends the chunks (if any) to <paramref name="target"/>, in order. Send the header right after.</summary>
    public void SendChunks(IActorRef target, IActorRef sender)
    {
        foreach (var chunk in Chunks)
        {
            target.Tell(chunk, sender);
        }
    }

    /// <summary>The sender's last use: the chunk arrays may be recycled once the bulk writers are done too.</summary>
    public void Release() => Unhold();

    internal void Hold() => Interlocked.Increment(ref _holders);

    internal void Unhold()
    {
        var left = Interlocked.Decrement(ref _holders);
        if (left == 0 && !_escaped)
        {
            foreach (var chunk in _chunks)
            {
                ChunkArrayPool.Outgoing.Return(chunk.Data);
            }
        }
        else if (left < 0)
        {
            throw new InvalidOperationException("an outgoing tensor was released more often than it was held");
        }
    }

    /// <summary>The chunks leave by a path that may read them at any later time: never recycle them.</summary>
    internal void Escape() => _escaped = true;
}
