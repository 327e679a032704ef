using DistTrainer.Numerics.Kernels;

namespace DistTrainer.Numerics.Tests.Kernels;

/// <summary>A background thread that lends itself through <see cref="SpareThreads.Help"/> until disposed, and counts the times it ran parts.</summary>
internal sealed class IdleHelperThread : IDisposable
{
    private readonly CancellationTokenSource _stop = new();
    private readonly Thread _thread;
    private long _helped;

    public IdleHelperThread()
    {
        _thread = new Thread(() =>
        {
            while (!_stop.IsCancellationRequested)
            {
                if (SpareThreads.Help())
                {
                    Interlocked.Increment(ref _helped);
                }
                Thread.SpinWait(20);
            }
        })
        { IsBackground = true };
        _thread.Start();
    }

    public long Helped => Interlocked.Read(ref _helped);

    public void Dispose()
    {
        _stop.Cancel();
        _thread.Join();
        _stop.Dispose();
    }
}

/// <summary>
/// The tests whose helper threads lend themselves through <see cref="SpareThreads.Help"/> run one class at a time: a
/// helper of one class could otherwise take the parts another class counts on its own helper to take.
/// </summary>
[CollectionDefinition(nameof(SpareThreadsCollection))]
public sealed class SpareThreadsCollection
{
}
