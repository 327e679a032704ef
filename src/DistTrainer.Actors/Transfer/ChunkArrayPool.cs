using System.Runtime.CompilerServices;

namespace DistTrainer.Actors.Transfer;

/// <summary>
/// Recycles chunk arrays of tensors that cross the <see cref="BulkChannel"/>. Without it every tensor sent or received
/// is megabytes of fresh arrays that live across garbage collections (they wait for the rest of their transfer, or
/// for the socket), and the collector's copying and full collections were most of the time of a round trip.
/// <see cref="Received"/>: the bulk reader rents one per chunk and the receiving actor's <see cref="ChunkAssembler"/>
/// gives it back once the transfer is consumed or dropped. <see cref="Outgoing"/>: <see cref="OutgoingTensor"/> rents
/// its chunks and gives them back once its sender and the bulk writers are done with them (never if they escaped to
/// another path). A pool takes back only arrays it lent out, each once, so chunks from anywhere else (Akka.Remote,
/// in-process sends, tests, the other pool) pass through untouched. Safe from any thread.
/// </summary>
public sealed class ChunkArrayPool
{
    /// <summary>Free arrays kept at most per pool, in bytes; beyond this returned arrays go to the garbage collector.</summary>
    public const long MaxFreeBytes = 64L << 20;

    public static readonly ChunkArrayPool Received = new();
    public static readonly ChunkArrayPool Outgoing = new();

    private static readonly object LentMark = new();
    private readonly ConditionalWeakTable<float[], object> _lent = new();
    private readonly Dictionary<int, Stack<float[]>> _free = [];
    private long _freeBytes;

    /// <summary>An array of exactly <paramref name="length"/> floats with unspecified contents.</summary>
    public float[] Rent(int length)
    {
        float[]? array = null;
        lock (_free)
        {
            if (_free.TryGetValue(length, out var stack) && stack.TryPop(out array))
            {
                _freeBytes -= (long)length * sizeof(float);
            }
        }
        array ??= GC.AllocateUninitializedArray<float>(length);
        _lent.AddOrUpdate(array, LentMark);
        return array;
    }

    /// <summary>Takes back an array <see cref="Rent"/> lent out; any other array, or one already returned, is ignored.</summary>
    public void Return(float[]? array)
    {
        if (array is null || !_lent.Remove(array))
        {
            return;
        }
        var bytes = (long)array.Length * sizeof(float);
        lock (_free)
        {
            if (_freeBytes + bytes > MaxFreeBytes)
            {
                return;
            }
            if (!_free.TryGetValue(array.Length, out var stack))
            {
                _free[array.Length] = stack = new Stack<float[]>();
            }
            stack.Push(array);
            _freeBytes += bytes;
        }
    }
}
