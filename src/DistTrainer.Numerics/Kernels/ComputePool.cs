using System.Diagnostics;
using System.Diagnostics.CodeAnalysis;
using System.Runtime.CompilerServices;

namespace DistTrainer.Numerics.Kernels;

/// <summary>
/// A fixed set of persistent worker threads that run the parts of one data-parallel job at a time.
/// A job is a static function pointer plus a context pointer, so dispatch allocates nothing.
/// The calling thread takes parts too; a second concurrent job (or a nested one) runs inline on its caller.
/// </summary>
internal sealed unsafe class ComputePool
{
    /// <summary>An upper bound on the pool (parts are packed into 16-bit fields); callers are expected to ask for at most one thread per core.</summary>
    public const int MaxWorkers = 63;

    // How long an idle worker keeps polling before it blocks: training issues kernels back to back,
    // and a kernel wake-up through the OS costs more than a small product.
    private static readonly long _spinTicks = Stopwatch.Frequency / 5000;

    public static ComputePool Shared { get; } = new();

    private readonly Lock _growLock = new();
    private Worker[] _workers = [];
    private int _busy;

    // The current job. _ticket packs (generation << 32) | (parts << 16) | nextPart, so a part is
    // claimed with one compare-and-swap that also proves the job has not been replaced meanwhile.
    private long _ticket;
    private delegate*<void*, int, void> _function;
    private void* _context;
    private IPartedWork? _work; // instead of _function and _context
    private int _pending;

    /// <summary>Runs <paramref name="function"/>(context, part) for every part in [0, parts) and returns when all are done.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public void Run(int parts, delegate*<void*, int, void> function, void* context)
    {
        if (parts <= 1 || Interlocked.CompareExchange(ref _busy, 1, 0) != 0)
        {
            for (var i = 0; i < parts; i++)
            {
                function(context, i);
            }
            return;
        }

        try
        {
            parts = Math.Min(parts, MaxWorkers + 1);
            var workers = EnsureWorkers(parts - 1);
            Publish(parts, function, context, null);
            for (var i = 0; i < parts - 1; i++)
            {
                workers[i].Wake();
            }
            RunPartsAndWait();
        }
        finally
        {
            Volatile.Write(ref _busy, 0);
        }
    }

    /// <summary>
    /// Runs <paramref name="work"/> for every part in [0, parts) on the calling thread and on whichever threads call
    /// <see cref="Help"/> meanwhile; wakes none of the pool's threads. Returns when all parts are done. Meant for short
    /// passes on a thread whose peers may be idle: with no helper it costs the caller only the claims.
    /// </summary>
    public void RunWithSpareThreads(int parts, IPartedWork work) => RunWithSpareThreads(parts, null, null, work);

    /// <summary>As <see cref="RunWithSpareThreads(int, IPartedWork)"/>, for a static function and a context pointer: allocates nothing.</summary>
    public void RunWithSpareThreads(int parts, delegate*<void*, int, void> function, void* context) => RunWithSpareThreads(parts, function, context, null);

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void RunWithSpareThreads(int parts, delegate*<void*, int, void> function, void* context, IPartedWork? work)
    {
        if (parts <= 1 || Interlocked.CompareExchange(ref _busy, 1, 0) != 0)
        {
            for (var i = 0; i < parts; i++)
            {
                RunPart(function, context, work, i);
            }
            return;
        }
        try
        {
            Publish(Math.Min(parts, 0xFFFF), function, context, work);
            RunPartsAndWait();
        }
        finally
        {
            _work = null;
            Volatile.Write(ref _busy, 0);
        }
    }

    /// <summary>Runs parts of the current job, if there is one (an idle thread lending itself). True when it ran any.</summary>
    public bool Help()
    {
        if (!HasWork())
        {
            return false;
        }
        RunParts();
        return true;
    }

    private void Publish(int parts, delegate*<void*, int, void> function, void* context, IPartedWork? work)
    {
        _function = function;
        _context = context;
        _work = work;
        Volatile.Write(ref _pending, parts);
        var generation = (Volatile.Read(ref _ticket) >> 32) + 1;
        Volatile.Write(ref _ticket, (generation << 32) | ((long)parts << 16));
    }

    private void RunPartsAndWait()
    {
        RunParts();
        var spin = new SpinWait();
        while (Volatile.Read(ref _pending) != 0)
        {
            spin.SpinOnce(sleep1Threshold: -1);
        }
    }

    /// <summary>Claims and runs parts of the current job until none is left.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void RunParts()
    {
        while (true)
        {
            var ticket = Volatile.Read(ref _ticket);
            var parts = (int)(ticket >> 16) & 0xFFFF;
            var next = (int)ticket & 0xFFFF;
            if (next >= parts)
            {
                return;
            }
            // Read the job before claiming: a successful claim proves it was still this job's.
            var function = _function;
            var context = _context;
            var work = _work;
            if (Interlocked.CompareExchange(ref _ticket, ticket + 1, ticket) != ticket)
            {
                continue;
            }
            RunPart(function, context, work, next);
            Interlocked.Decrement(ref _pending);
        }
    }

    private static void RunPart(delegate*<void*, int, void> function, void* context, IPartedWork? work, int part)
    {
        if (work is not null)
        {
            work.RunPart(part);
        }
        else
        {
            function(context, part);
        }
    }

    /// <summary>Bytes the pool's threads have allocated so far (as of each one's last finished job): lets tests prove the pool allocates nothing.</summary>
    internal long WorkerAllocatedBytes
    {
        get
        {
            long total = 0;
            foreach (var worker in Volatile.Read(ref _workers))
            {
                total += Volatile.Read(ref worker.AllocatedBytes);
            }
            return total;
        }
    }

    private bool HasWork()
    {
        var ticket = Volatile.Read(ref _ticket);
        return ((int)ticket & 0xFFFF) < (((int)(ticket >> 16)) & 0xFFFF);
    }

    private Worker[] EnsureWorkers(int count)
    {
        var workers = _workers;
        if (workers.Length >= count)
        {
            return workers;
        }
        lock (_growLock)
        {
            workers = _workers;
            if (workers.Length < count)
            {
                var grown = new Worker[count];
                Array.Copy(workers, grown, workers.Length);
                for (var i = workers.Length; i < count; i++)
                {
                    grown[i] = new Worker(this, i);
                }
                Volatile.Write(ref _workers, grown);
                workers = grown;
            }
        }
        return workers;
    }

    [SuppressMessage("Design", "CA1001", Justification = "Workers live as long as the process.")]
    private sealed class Worker
    {
        private readonly ComputePool _pool;
        private readonly ManualResetEventSlim _signal = new(false, spinCount: 1);

        /// <summary>This thread's allocation counter, published after each job.</summary>
        public long AllocatedBytes;

        public Worker(ComputePool pool, int index)
        {
            _pool = pool;
            var thread = new Thread(Loop, maxStackSize: 256 * 1024)
            {
                IsBackground = true,
                Name = $"DistTrainer.Compute-{index + 1}",
            };
            thread.Start();
        }

        public void Wake() => _signal.Set();

        private void Loop()
        {
            while (true)
            {
                var start = Stopwatch.GetTimestamp();
                while (!_pool.HasWork())
                {
                    if (Stopwatch.GetTimestamp() - start > _spinTicks)
                    {
                        // Reset, then re-check, then sleep: a job published after the check also sets the signal.
                        _signal.Reset();
                        if (!_pool.HasWork())
                        {
                            _signal.Wait();
                        }
                        start = Stopwatch.GetTimestamp();
                    }
                    else
                    {
                        Thread.SpinWait(20);
                    }
                }
                _pool.RunParts();
                Volatile.Write(ref AllocatedBytes, GC.GetAllocatedBytesForCurrentThread());
            }
        }
    }
}

/// <summary>A job for <see cref="ComputePool.RunWithSpareThreads"/>: part i of it, on whichever thread claims it.</summary>
internal interface IPartedWork
{
    void RunPart(int part);
}
