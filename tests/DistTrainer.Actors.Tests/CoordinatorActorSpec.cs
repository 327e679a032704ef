using Akka.TestKit.Xunit2;
using DistTrainer.Actors.Coordinator;
using DistTrainer.Actors.Messages;
using DistTrainer.Numerics.Training;

namespace DistTrainer.Actors.Tests;

public sealed class CoordinatorActorSpec : TestKit
{
    private const int Parameters = 100;

    public CoordinatorActorSpec() : base(TestData.SpecConfig)
    {
    }

    [Fact]
    public void Coordinator_should_split_each_global_batch_of_the_seeded_order_among_workers()
    {
        var (_, _, w0, w1, settings) = Start(TimeSpan.FromSeconds(30));
        var a0 = w0.ExpectMsg<ComputeGradient>();
        var a1 = w1.ExpectMsg<ComputeGradient>();
        var order = EpochOrder.Create(settings.Seed, 0, settings.TrainCount);
        Assert.Equal(order[..10], a0.Rows.Concat(a1.Rows));
        Assert.Equal((0L, 10, 0, 1), (a0.Version, a0.StepSamples, a0.Part, a1.Part));
    }

    [Fact]
    public void Coordinator_should_reassign_work_on_Terminated()
    {
        var (_, _, w0, w1, _) = Start(TimeSpan.FromSeconds(30));
        w0.ExpectMsg<ComputeGradient>();
        var lost = w1.ExpectMsg<ComputeGradient>();
        Sys.Stop(w1.Ref);
        var again = w0.ExpectMsg<ComputeGradient>(TimeSpan.FromSeconds(3));
        Assert.Equal((lost.Step, lost.Part, 1), (again.Step, again.Part, again.Attempt));
        Assert.Equal(lost.Rows, again.Rows);
    }

    [Fact]
    public void Coordinator_should_redrive_a_step_with_no_answer_within_the_timeout()
    {
        var (_, _, w0, w1, _) = Start(TimeSpan.FromMilliseconds(300));
        var mine = w0.ExpectMsg<ComputeGradient>();
        var late = w1.ExpectMsg<ComputeGradient>();
        // Worker 0 answers nothing either; each part goes to the other worker.
        var toW0 = w0.ExpectMsg<ComputeGradient>(TimeSpan.FromSeconds(3));
        var toW1 = w1.ExpectMsg<ComputeGradient>(TimeSpan.FromSeconds(3));
        Assert.Equal((late.Part, 1), (toW0.Part, toW0.Attempt));
        Assert.Equal((mine.Part, 1), (toW1.Part, toW1.Attempt));
    }

    [Fact]
    public void Coordinator_should_count_every_sample_once_and_report_each_epoch()
    {
        var (coordinator, server, w0, w1, settings) = Start(TimeSpan.FromSeconds(30), listenerProbe: true);
        var steps = settings.StepsPerEpoch;
        for (var step = 0; step < steps; step++)
        {
            foreach (var probe in new[] { w0, w1 })
            {
                var work = probe.ExpectMsg<ComputeGradient>();
                coordinator.Tell(new GradientAccepted(probe == w0 ? 0 : 1, 0, work.Step, work.Part, work.Version, work.Rows.Length, 1.0, 100, 0), server.Ref);
            }
            coordinator.Tell(new StepApplied(step, step + 1, 10, 2.0), server.Ref);
        }
        server.ExpectMsg<PullParameters>(p => p.WorkerId == -1);
        coordinator.Tell(new ParametersSnapshot(steps, Parameters, 0, new float[Parameters]), server.Ref);
        var report = Listener!.ExpectMsg<EpochReport>();
        Assert.Equal((1, settings.TrainCount, 0), (report.Epoch, report.Samples, report.DuplicateSamples));
        var finished = Listener.ExpectMsg<TrainingFinished>();
        Assert.Equal([settings.TrainCount], finished.SamplesSeenPerEpoch);
    }

    [Fact]
    public void Coordinator_should_publish_step_progress_with_accuracy_and_every_workers_status()
    {
        var (coordinator, server, w0, w1, settings) = Start(TimeSpan.FromSeconds(30), listenerProbe: true, progressEvery: 2);
        var started = DateTimeOffset.UtcNow;
        for (var step = 0; step < settings.StepsPerEpoch; step++)
        {
            foreach (var probe in new[] { w0, w1 })
            {
                var work = probe.ExpectMsg<ComputeGradient>();
                var (id, correct) = probe == w0 ? (0, 4) : (1, 1); // each part holds 5 rows
                coordinator.Tell(new GradientAccepted(id, 0, work.Step, work.Part, work.Version, work.Rows.Length, 0.5 * work.Rows.Length, 100, correct), server.Ref);
            }
            if (step == 1)
            {
                var half = Listener!.ExpectMsg<TrainingProgress>();
                Assert.Equal((1, 2, 4, 2L), (half.Epoch, half.StepInEpoch, half.StepsPerEpoch, half.Step));
                Assert.Equal((20, 10L, 20L, 10L), (half.EpochSamples, half.EpochCorrect, half.TotalSamples, half.TotalCorrect));
                Assert.Equal(10.0, half.EpochLoss, 9);
                Assert.Equal([0, 1], half.Workers.Select(w => w.WorkerId));
                Assert.All(half.Workers, w =>
                {
                    Assert.Equal(2, w.Steps);
                    Assert.True(w.Alive);
                    Assert.True(w.MeanStepMs > 0);
                    Assert.InRange(w.LastSeen, started.AddSeconds(-1), DateTimeOffset.UtcNow.AddSeconds(1));
                });
            }
        }
        var last = Listener!.ExpectMsg<TrainingProgress>();
        Assert.Equal((4, 4L, 40, 20L), (last.StepInEpoch, last.Step, last.EpochSamples, last.EpochCorrect));
        Assert.Equal(20.0, last.TotalLoss, 9);
        Assert.All(last.Workers, w => Assert.Equal(4, w.Steps));
    }

    [Fact]
    public void Coordinator_should_publish_progress_for_each_accepted_batch_in_async_mode()
    {
        var (coordinator, server, w0, _, _) = Start(TimeSpan.FromSeconds(30), listenerProbe: true, progressEvery: 1, mode: TrainingMode.Async);
        var work = w0.ExpectMsg<ComputeGradient>();
        coordinator.Tell(new GradientAccepted(0, 0, work.Step, work.Part, 1, work.Rows.Length, 2.0, 100, 7), server.Ref);

        var progress = Listener!.ExpectMsg<TrainingProgress>();
        Assert.Equal((1, 1, 1L, 10, 7L, 7L), (progress.Epoch, progress.StepInEpoch, progress.Step, progress.EpochSamples, progress.EpochCorrect, progress.TotalCorrect));
        Assert.Equal([1L, 0L], progress.Workers.Select(w => w.Steps));
    }

    private Akka.TestKit.TestProbe? Listener { get; set; }

    private (Akka.Actor.IActorRef Coordinator, Akka.TestKit.TestProbe Server, Akka.TestKit.TestProbe W0, Akka.TestKit.TestProbe W1, CoordinatorSettings Settings)
        Start(TimeSpan timeout, bool listenerProbe = false, int progressEvery = 0, TrainingMode mode = TrainingMode.Sync)
    {
        var server = CreateTestProbe();
        var w0 = CreateTestProbe();
        var w1 = CreateTestProbe();
        Listener = listenerProbe ? CreateTestProbe() : null;
        var settings = new CoordinatorSettings(mode, 1, 10, 7, 40, Parameters, 2) { StepTimeout = timeout, ProgressEvery = progressEvery };
        var coordinator = Sys.ActorOf(CoordinatorActor.Props(settings, server.Ref, null, Listener?.Ref));
        server.ExpectMsg<RegisterCoordinator>();
        coordinator.Tell(new RegisterWorker(0, Parameters), w0.Ref);
        w0.ExpectMsg<WorkerRegistered>();
        coordinator.Tell(new RegisterWorker(1, Parameters), w1.Ref);
        w1.ExpectMsg<WorkerRegistered>();
        return (coordinator, server, w0, w1, settings);
    }
}
