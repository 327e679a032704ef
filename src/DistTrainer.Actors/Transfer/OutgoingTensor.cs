using Akka.Actor;
using DistTrainer.Actors.Messages;

namespace DistTrainer.Actors.Transfer;

/// <summary>
/// A tensor ready to send: inline when it fits one chunk, otherwise split into <see cref="TensorChunk"/>s that go
/// out before the header message naming <see cref="TransferId"/>. The chunks are immutable once built, so a broadcast
/// sends the same chunk objects to every receiver. (Issue 4's flow control can send <see cref="Chunks"/> in windows.)
/// </summary>
public sealed class OutgoingTensor
{
    private OutgoingTensor(int length, long transferId, float[] inline, TensorChunk[] chunks)
    {
        Length = length;
        TransferId = transferId;
        Inline = inline;
        Chunks = chunks;
    }

    public int Length { get; }

    /// <summary>0 when the data is inline.</summary>
    public long TransferId { get; }

    /// <summary>The data for the header message's tensor field: the whole tensor, or empty when chunked.</summary>
    public float[] Inline { get; }

    public IReadOnlyList<TensorChunk> Chunks { get; }

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
            chunks[i] = new TensorChunk(transferId, i, count, data.Length, offset, data.Slice(offset, length).ToArray());
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
}
