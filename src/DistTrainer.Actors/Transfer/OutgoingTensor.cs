using Akka.Actor;
using DistTrainer.Actors.Messages;

namespace DistTrainer.Actors.Transfer;

/// <summary>
/// A tensor ready to send: inline when it fits one chunk, otherwise described as <see cref="TensorChunk"/>s of
/// <c>chunkFloats</c> that go out before the header message naming <see cref="TransferId"/>.
/// Ownership: a chunked tensor's values live in one whole-tensor array from <see cref="ChunkArrayPool.Outgoing"/>,
/// which the tensor owns. The sender may write it (<see cref="Buffer"/>) only before the first send; from then on it
/// is read only, by bulk writers straight into their sockets (no copy into chunk arrays), and it goes back to the pool
/// once the sender has called <see cref="Release"/> and every holder (<see cref="Hold"/>: bulk writers, the outbox)
/// is done. A path that keeps chunks for later (Akka.Remote, an in-process receiver, a caller reading
/// <see cref="Chunks"/>) gets chunk arrays of its own, copied once and left to the garbage collector.
/// </summary>
public sealed class OutgoingTensor
{
    private readonly float[] _data;
    private readonly int _chunkFloats;
    private TensorChunk[]? _chunks;
    private int _holders = 1; // the sender, until Release
    private bool _sent;

    private OutgoingTensor(int length, long transferId, float[] data, int chunkFloats, bool inline)
    {
        Length = length;
        TransferId = transferId;
        _data = data;
        _chunkFloats = chunkFloats;
        Inline = inline ? data : [];
        ChunkCount = inline ? 0 : (length + chunkFloats - 1) / chunkFloats;
    }

    public int Length { get; }

    /// <summary>0 when the data is inline.</summary>
    public long TransferId { get; }

    /// <summary>The data for the header message's tensor field: the whole tensor, or empty when chunked.</summary>
    public float[] Inline { get; }

    /// <summary>The tensor's values, for a sender that fills a tensor from <see cref="Rent"/>; only before the first send.</summary>
    public Span<float> Buffer => _sent
        ? throw new InvalidOperationException("an outgoing tensor is read only once it has been sent")
        : _data.AsSpan(0, Length);

    /// <summary>The chunks as messages, for a caller that delivers them itself: copies that belong to the caller.</summary>
    public IReadOnlyList<TensorChunk> Chunks
    {
        get
        {
            _sent = true;
            if (Volatile.Read(ref _chunks) is { } built)
            {
                return built;
            }
            var chunks = new TensorChunk[ChunkCount];
            for (var i = 0; i < chunks.Length; i++)
            {
                var (offset, length) = ChunkAt(i);
                chunks[i] = new TensorChunk(TransferId, i, chunks.Length, Length, offset, _data.AsSpan(offset, length).ToArray());
            }
            return Interlocked.CompareExchange(ref _chunks, chunks, null) ?? chunks;
        }
    }

    internal int ChunkCount { get; }

    /// <summary>The whole tensor, read by a bulk writer that holds the tensor (<see cref="Hold"/>).</summary>
    internal ReadOnlySpan<float> Data => _data.AsSpan(0, Length);

    /// <summary>Where chunk <paramref name="index"/> lies in the tensor.</summary>
    internal (int Offset, int Length) ChunkAt(int index)
    {
        var offset = index * _chunkFloats;
        return (offset, Math.Min(_chunkFloats, Length - offset));
    }

    /// <summary>Copies <paramref name="data"/>; <paramref name="transferId"/> must be non-zero and unique per sender.</summary>
    public static OutgoingTensor Create(ReadOnlySpan<float> data, long transferId, int chunkFloats)
    {
        var tensor = Rent(data.Length, transferId, chunkFloats);
        data.CopyTo(tensor.Buffer);
        return tensor;
    }

    /// <summary>
    /// A tensor of <paramref name="length"/> values with unspecified contents, for a sender that computes straight
    /// into <see cref="Buffer"/> instead of copying an array of its own.
    /// </summary>
    public static OutgoingTensor Rent(int length, long transferId, int chunkFloats)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(chunkFloats, 1);
        ArgumentOutOfRangeException.ThrowIfNegative(length);
        if (length <= chunkFloats)
        {
            return new OutgoingTensor(length, 0, new float[length], chunkFloats, inline: true);
        }
        ArgumentOutOfRangeException.ThrowIfZero(transferId);
        return new OutgoingTensor(length, transferId, ChunkArrayPool.Outgoing.Rent(length), chunkFloats, inline: false);
    }

    /// <summary>Sends the chunks (if any) to <paramref name="target"/>, in order. Send the header right after.</summary>
    public void SendChunks(IActorRef target, IActorRef sender)
    {
        foreach (var chunk in Chunks)
        {
            target.Tell(chunk, sender);
        }
    }

    /// <summary>The sender's last use: the array goes back to the pool once every holder is done too.</summary>
    public void Release() => Unhold();

    /// <summary>From here on the values are read only; call before handing the tensor to another thread.</summary>
    internal void Hold()
    {
        _sent = true;
        Interlocked.Increment(ref _holders);
    }

    internal void Unhold()
    {
        var left = Interlocked.Decrement(ref _holders);
        if (left == 0 && ChunkCount > 0)
        {
            ChunkArrayPool.Outgoing.Return(_data);
        }
        else if (left < 0)
        {
            throw new InvalidOperationException("an outgoing tensor was released more often than it was held");
        }
    }
}
