using Akka.Actor;

namespace DistTrainer.Actors.Transfer;

/// <summary>
/// The in-process path for tensors. A message to an actor in the same ActorSystem is delivered by reference, so a
/// tensor for a local receiver travels inline as one array, never chunked (chunks and flow control exist for the
/// network). To avoid a large-object allocation per step, the array can come from a <see cref="TensorPool"/> and
/// carry a <see cref="TensorLease"/> in a field the serializer ignores: each local receiver releases it once it no
/// longer reads the array, and the last release returns the array to the pool. A message that goes through
/// serialization (another node, or <c>serialize-messages = on</c>) arrives without the lease and with its own copy,
/// so the sender's array simply stays with the garbage collector.
/// </summary>
public static class LocalTensor
{
    /// <summary>True when <paramref name="target"/> lives in <paramref name="system"/> (messages to it are not serialized).</summary>
    public static bool IsLocal(ActorSystem system, IActorRef target)
    {
        ArgumentNullException.ThrowIfNull(system);
        ArgumentNullException.ThrowIfNull(target);
        var address = target.Path.Address;
        return address.HasLocalScope || address.Equals(((ExtendedActorSystem)system).Provider.DefaultAddress);
    }
}

/// <summary>Arrays of one length for in-process tensor messages; safe to use from several actors' threads.</summary>
public sealed class TensorPool
{
    private readonly Stack<float[]> _free = new();
    private readonly int _length;
    private readonly int _capacity;

    public TensorPool(int length, int capacity = 4)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(length);
        _length = length;
        _capacity = Math.Max(1, capacity);
    }

    /// <summary>An array of the pool's length with unspecified contents.</summary>
    public float[] Rent()
    {
        lock (_free)
        {
            if (_free.TryPop(out var array))
            {
                return array;
            }
        }
        return GC.AllocateUninitializedArray<float>(_length);
    }

    /// <summary>A lease on <paramref name="array"/> that returns it here after <paramref name="holders"/> releases.</summary>
    public TensorLease Lease(float[] array, int holders) => new(this, array, holders);

    internal void Return(float[] array)
    {
        if (array.Length != _length)
        {
            return;
        }
        lock (_free)
        {
            if (_free.Count < _capacity)
            {
                _free.Push(array);
            }
        }
    }
}

/// <summary>
/// Shared ownership of one pooled array among its local receivers. Each holder calls <see cref="Release"/> exactly
/// once, after its last read; a holder that never releases only costs the pool that array.
/// </summary>
public sealed class TensorLease
{
    private readonly TensorPool _pool;
    private readonly float[] _array;
    private int _holders;

    internal TensorLease(TensorPool pool, float[] array, int holders)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(holders, 1);
        _pool = pool;
        _array = array;
        _holders = holders;
    }

    /// <summary>Adds <paramref name="holders"/> holders; only a current holder may share, so the array cannot have gone back.</summary>
    public void Share(int holders)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(holders);
        if (Interlocked.Add(ref _holders, holders) <= holders)
        {
            throw new InvalidOperationException("a tensor lease was shared after its last release");
        }
    }

    public void Release()
    {
        var left = Interlocked.Decrement(ref _holders);
        if (left == 0)
        {
            _pool.Return(_array);
        }
        else if (left < 0)
        {
            throw new InvalidOperationException("a tensor lease was released more often than it was shared");
        }
    }
}
