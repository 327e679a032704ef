using Akka.Actor;
using Akka.TestKit.Xunit2;

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
    public void An_actor_on_a_dedicated_thread_should_keep_answering_after_its_thread_went_to_sleep()
    {
        var actor = Sys.ActorOf(Props.Create(() => new ThreadReporter()).WithDispatcher(DistTrainerSettings.SimulationWorkerDispatcher));
        actor.Tell("which thread?");
        var thread = ExpectMsg<int>();
        Thread.Sleep(50); // well past idle-spin: the thread now waits on its monitor

        actor.Tell("which thread?");

        Assert.Equal(thread, ExpectMsg<int>());
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
}
