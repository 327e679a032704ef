using Akka.Actor;
using DistTrainer.Actors.Messages;

namespace DistTrainer.Actors.Transfer;

/// <summary>
/// Collects <see cref="TensorChunk"/>s per (sender, transfer id) and hands out the complete tensor when its header
/// message arrives. Every check that fails returns a reason for the log: a chunk that contradicts its transfer
/// (count, total length), lies outside the tensor, or repeats an index is rejected on arrival; a transfer that is
/// incomplete or has gaps/overlaps when its header arrives is rejected and dropped. At most
/// <c>maxOpenTransfers</c> transfers are held; beyond that the oldest is dropped.
/// Chunk arrays lent by <see cref="ChunkArrayPool.Received"/> go back to it when their transfer is dropped, and those of a
/// taken tensor on the next call to the assembler: a <see cref="ReceivedTensor"/> is to be read before that (every
/// actor reads it within the message that completes it).
/// </summary>
public sealed class ChunkAssembler
{
    private readonly int _maxOpenTransfers;
    private readonly int _maxLength;
    private readonly Dictionary<(IActorRef Sender, long Id), Pending> _pending = [];
    private readonly LinkedList<(IActorRef Sender, long Id)> _arrival = new();
    private TensorChunk?[]? _taken;
    private bool _takenIsValid; // the last call took a complete, checked tensor

    public ChunkAssembler(int maxOpenTransfers, int maxLength)
    {
        _maxOpenTransfers = Math.Max(1, maxOpenTransfers);
        _maxLength = maxLength;
    }

    public int OpenTransfers => _pending.Count;

    /// <summary>Stores a chunk. False (with a reason) if it is malformed or contradicts its transfer; the transfer is then dropped.</summary>
    public bool Add(IActorRef sender, TensorChunk chunk, out string? reason, out string? evicted)
    {
        RecycleTaken();
        evicted = null;
        var key = (sender, chunk.TransferId);
        var data = chunk.Data ?? [];
        reason = chunk switch
        {
            { TransferId: 0 } => "transfer id 0 is reserved for inline tensors",
            { Count: <= 0 } => $"chunk count {chunk.Count} is not positive",
            { TotalLength: <= 0 } => $"total length {chunk.TotalLength} is not positive",
            _ when chunk.TotalLength > _maxLength => $"total length {chunk.TotalLength} exceeds the expected {_maxLength}",
            _ when chunk.Index < 0 || chunk.Index >= chunk.Count => $"chunk index {chunk.Index} is outside 0..{chunk.Count - 1}",
            _ when chunk.Offset < 0 || data.Length == 0 || (long)chunk.Offset + data.Length > chunk.TotalLength =>
                $"chunk {chunk.Index} covers [{chunk.Offset}, {(long)chunk.Offset + data.Length}) outside the tensor of {chunk.TotalLength}",
            _ => null,
        };
        if (reason is null && _pending.TryGetValue(key, out var existing))
        {
            if (existing.Chunks.Length != chunk.Count || existing.TotalLength != chunk.TotalLength)
            {
                reason = $"chunk {chunk.Index} says {chunk.Count} chunks / {chunk.TotalLength} values, the transfer began with {existing.Chunks.Length} / {existing.TotalLength}";
            }
            else if (existing.Chunks[chunk.Index] is not null)
            {
                reason = $"chunk {chunk.Index} arrived twice";
            }
        }
        if (reason is not null)
        {
            reason = $"transfer {chunk.TransferId}: {reason}";
            if (Remove(key))
            {
                reason += "; the transfer is dropped";
            }
            ChunkArrayPool.Received.Return(chunk.Data);
            return false;
        }
        if (!_pending.TryGetValue(key, out var pending))
        {
            if (_pending.Count >= _maxOpenTransfers)
            {
                var oldest = _arrival.First!.Value;
                Remove(oldest);
                evicted = $"transfer {oldest.Id} from {oldest.Sender.Path.Name} dropped: more than {_maxOpenTransfers} open transfers";
            }
            pending = new Pending(chunk.TotalLength, new TensorChunk?[chunk.Count], _arrival.AddLast(key));
            _pending[key] = pending;
        }
        pending.Chunks[chunk.Index] = chunk;
        return true;
    }

    /// <summary>
    /// Resolves a header's tensor field: the inline array when <paramref name="transferId"/> is 0, else the complete
    /// chunk set (removed from the assembler either way). Checks the length against <paramref name="expectedLength"/>.
    /// </summary>
    public bool TryTake(IActorRef sender, int length, long transferId, float[]? inline, int expectedLength, out ReceivedTensor tensor, out string? reason)
    {
        RecycleTaken();
        tensor = default;
        if (transferId == 0)
        {
            inline ??= [];
            reason = length != expectedLength || inline.Length != expectedLength
                ? $"tensor holds {inline.Length} values (header says {length}), expected {expectedLength}"
                : null;
            if (reason is null)
            {
                tensor = new ReceivedTensor([new TensorChunk(0, 0, 1, inline.Length, 0, inline)]);
            }
            return reason is null;
        }
        var key = (sender, transferId);
        if (!_pending.TryGetValue(key, out var pending))
        {
            reason = $"transfer {transferId}: no chunks received";
            return false;
        }
        _pending.Remove(key);
        _arrival.Remove(pending.Node);
        _taken = pending.Chunks; // back to the pool on the next call, whether or not the checks below pass
        if (length != expectedLength || pending.TotalLength != expectedLength)
        {
            reason = $"transfer {transferId}: tensor of {pending.TotalLength} values (header says {length}), expected {expectedLength}";
            return false;
        }
        var missing = Array.FindIndex(pending.Chunks, c => c is null);
        if (missing >= 0)
        {
            var received = pending.Chunks.Count(c => c is not null);
            reason = $"transfer {transferId}: incomplete, {received} of {pending.Chunks.Length} chunks (first missing: {missing})";
            return false;
        }
        var chunks = pending.Chunks!;
        var expectedOffset = 0L;
        foreach (var chunk in chunks)
        {
            if (chunk!.Offset != expectedOffset)
            {
                reason = $"transfer {transferId}: chunk {chunk.Index} starts at {chunk.Offset}, expected {expectedOffset} (gap or overlap)";
                return false;
            }
            expectedOffset += chunk.Data.Length;
        }
        if (expectedOffset != expectedLength)
        {
            reason = $"transfer {transferId}: chunks cover {expectedOffset} values, expected {expectedLength}";
            return false;
        }
        tensor = new ReceivedTensor(chunks!);
        _takenIsValid = true;
        reason = null;
        return true;
    }

    /// <summary>
    /// Keeps the array of the tensor just taken (by the last <see cref="TryTake"/>) when it arrived as one pooled
    /// piece (over the bulk channel): it is then the caller's, read in place instead of copied, and given back with
    /// <see cref="ChunkArrayPool.Return"/> on <see cref="ChunkArrayPool.Received"/> once no longer read (or left to
    /// the garbage collector). False, and the tensor stays the assembler's, when it came in several pieces or inline.
    /// </summary>
    public bool TryKeep(out float[] array)
    {
        if (_takenIsValid && _taken is [{ Offset: 0, Data: { } whole } only] && whole.Length == only.TotalLength)
        {
            _taken = null;
            _takenIsValid = false;
            array = whole;
            return true;
        }
        array = [];
        return false;
    }

    /// <summary>Forgets every open transfer of a sender (e.g. once it is known dead).</summary>
    public void Forget(IActorRef sender)
    {
        RecycleTaken();
        foreach (var key in _pending.Keys.Where(k => k.Sender.Equals(sender)).ToList())
        {
            Remove(key);
        }
    }

    private bool Remove((IActorRef, long) key)
    {
        if (!_pending.Remove(key, out var pending))
        {
            return false;
        }
        _arrival.Remove(pending.Node);
        Recycle(pending.Chunks);
        return true;
    }

    private void RecycleTaken()
    {
        _takenIsValid = false;
        if (_taken is not null)
        {
            Recycle(_taken);
            _taken = null;
        }
    }

    private static void Recycle(TensorChunk?[] chunks)
    {
        foreach (var chunk in chunks)
        {
            ChunkArrayPool.Received.Return(chunk?.Data);
        }
    }

    private sealed record Pending(int TotalLength, TensorChunk?[] Chunks, LinkedListNode<(IActorRef, long)> Node);
}
