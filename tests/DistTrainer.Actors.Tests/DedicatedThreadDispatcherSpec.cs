using Akka.Actor;
using Akka.TestKit.Xunit2;
using DistTrainer.Numerics.Optimizers;

namespace DistTrainer.Actors.Tests;

public sealed class DedicatedThreadDispatcherSpec : TestKit
{
    public DedicatedThreadDispatcherSpec() : base(TestData.SpecConfig)
    {
    }

    [Fact]
    public void Actors_on_the_simulation_shared_dispatcher_should_all_run_on_one_thread()
    {
        var first = ThreadOf(DistTrainerSettings.SimulationSharedDispatcher);
        var second = ThreadOf(DistTrainerSettings.SimulationSharedDispatcher);

        Assert.Equal(first, second);
        Assert.NotEqual(Environment.CurrentManagedThreadId, first);
    }

    [Fact]
    public void Actors_on_the_simulation_worker_dispatcher_should_each_get_a_thread_of_their_own()
    {
        var first = ThreadOf(DistTrainerSettings.SimulationWorkerDispatcher);
        var second = ThreadOf(DistTrainerSettings.SimulationWorkerDispatcher);
        var shared = ThreadOf(DistTrainerSettings.SimulationSharedDispatcher);

        Assert.Equal(3, new[] { first, second, shared }.Distinct().Count());
    }

    [Fact]
    public void An_actor_on_the_shared_thread_should_handle_the_messages_waiting_for_it_in_one_turn()
    {
        // While the thread is held inside the first actor, three more messages queue up for it, then one for the
        // second actor. With the configured throughput the first handles its three before the second gets the thread.
        var order = new System.Collections.Concurrent.ConcurrentQueue<string>();
        using var release = new ManualResetEventSlim();
        var first = Sys.ActorOf(Props.Create(() => new OrderRecorder(order, release)).WithDispatcher(DistTrainerSettings.SimulationSharedDispatcher));
        var second = Sys.ActorOf(Props.Create(() => new OrderRecorder(order, release)).WithDispatcher(DistTrainerSettings.SimulationSharedDispatcher));
        first.Tell("hold");
        AwaitCondition(() => order.Contains("hold"));
        first.Tell("a1");
        first.Tell("a2");
        first.Tell("a3");
        second.Tell("b1");

        release.Set();

        AwaitCondition(() => order.Count == 5);
        Assert.Equal(["hold", "a1", "a2", "a3", "b1"], order);
    }

    [Fact]
    public void An_actor_on_a_dedicated_thread_should_keep_answering_after_its_thread_went_to_sleep()
    {
        var actor = Sys.ActorOf(Props.Create(() => new ThreadReporter()).WithDispatcher(DistTrainerSettings.SimulationWorkerDispatcher));
        actor.Tell("which thread?");
        var thread = ExpectMsg<int>();
        Thread.Sleep(50); // well past idle-spin: the thread now waits on its monitor

        actor.Tell("which thread?");

        Assert.Equal(thread, ExpectMsg<int>());
    }

    [Fact]
    public void An_idle_simulation_worker_thread_should_take_slices_of_a_spread_optimizer_step()
    {
        // Each message keeps the worker's thread in its idle spin (2 ms) while this thread runs spread steps.
        var actor = Sys.ActorOf(Props.Create(() => new ThreadReporter()).WithDispatcher(DistTrainerSettings.SimulationWorkerDispatcher));
        var optimizer = new SliceRecorder();
        var step = new SpreadStep(optimizer);
        var weights = new float[64 * 1024];
        int? workerThread = null;
        for (var i = 0; i < 5000 && (workerThread is null || !optimizer.Threads.ContainsKey(workerThread.Value)); i++)
        {
            actor.Tell("which thread?");
            workerThread = ExpectMsg<int>();
            Assert.True(step.TryStep(weights, weights, [], 1f, new float[weights.Length]));
        }

        Assert.True(optimizer.Threads.ContainsKey(workerThread!.Value), $"slices ran on threads {string.Join(", ", optimizer.Threads.Keys)}, never on the worker's {workerThread}");
    }

    private int ThreadOf(string dispatcher)
    {
        var actor = Sys.ActorOf(Props.Create(() => new ThreadReporter()).WithDispatcher(dispatcher));
        actor.Tell("which thread?");
        return ExpectMsg<int>();
    }

    private sealed class ThreadReporter : ReceiveActor
    {
        public ThreadReporter() => Receive<string>(_ => Sender.Tell(Environment.CurrentManagedThreadId));
    }

    /// <summary>Notes each message it handles; "hold" keeps its thread until the test releases it.</summary>
    private sealed class OrderRecorder : ReceiveActor
    {
        public OrderRecorder(System.Collections.Concurrent.ConcurrentQueue<string> order, ManualResetEventSlim release) =>
            Receive<string>(m =>
            {
                order.Enqueue(m);
                if (m == "hold")
                {
                    release.Wait(TimeSpan.FromSeconds(10));
                }
            });
    }

    /// <summary>An optimizer that only notes which threads ran its slices (each slice sleeps a little, as if it had work).</summary>
    private sealed class SliceRecorder : IOptimizer
    {
        public System.Collections.Concurrent.ConcurrentDictionary<int, bool> Threads { get; } = new();

        public void Step(Span<float> weights, ReadOnlySpan<float> gradients)
        {
        }

        public void BeginStep()
        {
        }

        public bool StepSlice(ReadOnlySpan<float> weights, ReadOnlySpan<float> gradientSum, ReadOnlySpan<float> extraGradientSum, float scale,
            Span<float> newWeights, Span<float> newWeightsCopy, int offset)
        {
            Threads[Environment.CurrentManagedThreadId] = true;
            Thread.SpinWait(2000);
            return true;
        }

        public void EndStep(bool keep)
        {
        }

        public float[] ExportState() => [];

        public void ImportState(ReadOnlySpan<float> state)
        {
        }
    }
}
