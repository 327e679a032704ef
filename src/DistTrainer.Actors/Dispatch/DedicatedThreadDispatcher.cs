using System.Diagnostics;
using Akka.Configuration;
using Akka.Dispatch;
using DistTrainer.Numerics.Kernels;

namespace DistTrainer.Actors.Dispatch;

/// <summary>
/// Dedicated threads that spin only as long as configured, then sleep. Akka's PinnedDispatcher thread yields in a
/// loop for a while before it blocks; a worker and the parameter server wake every step, so they never reached the
/// blocking part and, with few cores, took turns with the threads doing the math. Configured with
/// <c>type = "DistTrainer.Actors.Dispatch.DedicatedThreadDispatcherConfigurator, DistTrainer.Actors"</c>;
/// <c>shared-thread = off</c>: one thread per actor, like PinnedDispatcher; <c>on</c>: one thread for all the actors
/// of the dispatcher, taking turns, so a message between them needs no thread to wake up. <c>idle-spin</c>: how long
/// an idle thread keeps checking for work (yielding its core to any other thread) before it sleeps; waking a sleeping
/// thread can take far longer than a step on a busy virtual machine.
/// </summary>
public sealed class DedicatedThreadDispatcherConfigurator : MessageDispatcherConfigurator
{
    private readonly MessageDispatcher? _shared;
    private readonly DedicatedThreadExecutorFactory _executors;

    public DedicatedThreadDispatcherConfigurator(Config config, IDispatcherPrerequisites prerequisites)
        : base(config, prerequisites)
    {
        _executors = new DedicatedThreadExecutorFactory(config.GetTimeSpan("idle-spin", TimeSpan.Zero), config.GetBoolean("help-while-idle", false));
        if (config.GetBoolean("shared-thread", false))
        {
            _shared = Create(shared: true);
        }
    }

    public override MessageDispatcher Dispatcher() => _shared ?? Create(shared: false);

    private MessageDispatcher Create(bool shared)
    {
        var id = Config.GetString("id", null);
        var throughput = Config.GetInt("throughput", 0);
        var deadlineTicks = Config.GetTimeSpan("throughput-deadline-time", null).Ticks;
        // No deadline unless one is set, as Akka's own configurators do: a mailbox given any deadline value, even
        // zero, handles one message per turn whatever the throughput.
        long? deadline = deadlineTicks > 0 ? deadlineTicks : null;
        var shutdownTimeout = Config.GetTimeSpan("shutdown-timeout", null);
        return shared
            ? new Akka.Dispatch.Dispatcher(this, id, throughput, deadline, _executors, shutdownTimeout)
            : new PinnedDispatcher(this, id, throughput, deadline, _executors, shutdownTimeout);
    }

    private sealed class DedicatedThreadExecutorFactory(TimeSpan idleSpin, bool helpWhileIdle) : ExecutorServiceFactory
    {
        public override ExecutorService Produce(string id) => new DedicatedThreadExecutor(id, idleSpin, helpWhileIdle);
    }

    /// <summary>One background thread that runs what it is given in order; idle, it spins a while, then waits on a monitor.</summary>
    private sealed class DedicatedThreadExecutor : ExecutorService
    {
        private readonly Queue<IRunnable> _queue = new();
        private readonly long _spinTicks;
        private readonly bool _helpWhileIdle;
        private volatile int _queued;
        private bool _sleeping;
        private volatile bool _shutDown;

        public DedicatedThreadExecutor(string id, TimeSpan idleSpin, bool helpWhileIdle)
            : base(id)
        {
            _spinTicks = (long)(idleSpin.TotalSeconds * Stopwatch.Frequency);
            _helpWhileIdle = helpWhileIdle;
            new Thread(Run) { IsBackground = true, Name = id }.Start();
        }

        public override void Execute(IRunnable run)
        {
            lock (_queue)
            {
                if (_shutDown)
                {
                    throw new RejectedExecutionException($"dispatcher {Id} is shut down");
                }
                _queue.Enqueue(run);
                _queued = _queue.Count;
                if (_sleeping)
                {
                    Monitor.Pulse(_queue);
                }
            }
        }

        public override void Shutdown()
        {
            lock (_queue)
            {
                _shutDown = true;
                Monitor.Pulse(_queue);
            }
        }

        private void Run()
        {
            while (TryTake(out var run))
            {
                run.Run();
            }
        }

        private bool TryTake(out IRunnable run)
        {
            SpinWhileIdle();
            lock (_queue)
            {
                while (_queue.Count == 0)
                {
                    if (_shutDown)
                    {
                        run = null!;
                        return false;
                    }
                    _sleeping = true;
                    Monitor.Wait(_queue);
                    _sleeping = false;
                }
                run = _queue.Dequeue();
                _queued = _queue.Count;
                return true;
            }
        }

        private void SpinWhileIdle()
        {
            if (_queued > 0 || _spinTicks <= 0)
            {
                return;
            }
            var until = Stopwatch.GetTimestamp() + _spinTicks;
            while (_queued == 0 && !_shutDown && Stopwatch.GetTimestamp() < until)
            {
                if (_helpWhileIdle && SpareThreads.Help())
                {
                    until = Stopwatch.GetTimestamp() + _spinTicks; // helping was work: idle time starts again
                    continue;
                }
                if (!Thread.Yield())
                {
                    Thread.SpinWait(20);
                }
            }
        }
    }
}
