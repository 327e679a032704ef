using Akka.Actor;
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
        // Each worker gets the batch's rows of its own shard, in the epoch's order.
        Assert.Equal([new RowRange(0, 20)], Shards[0]);
        Assert.Equal([new RowRange(20, 20)], Shards[1]);
        Assert.Equal(order[..10].Where(r => r < 20), a0.Rows);
        Assert.Equal(order[..10].Where(r => r >= 20), a1.Rows);
        Assert.Equal((0L, 10, 0, 1), (a0.Version, a0.StepSamples, a0.Part, a1.Part));
    }

    [Fact]
    public void Coordinator_should_reassign_work_on_Terminated()
    {
        var (coordinator, _, w0, w1, _) = Start(TimeSpan.FromSeconds(30));
        w0.ExpectMsg<ComputeGradient>();
        var lost = w1.ExpectMsg<ComputeGradient>();
        Sys.Stop(w1.Ref);
        // The survivor first gets the dead worker's rows, then its part.
        var shard = w0.ExpectMsg<AssignShard>(TimeSpan.FromSeconds(3));
        Assert.Equal([new RowRange(0, 40)], shard.Ranges);
        coordinator.Tell(new ShardReady(shard.AssignmentId, 0, 40), w0.Ref);
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
        // Worker 0 answers nothing either; only the holder of a part's rows can compute it, so each is re-sent to it.
        var toW0 = w0.ExpectMsg<ComputeGradient>(TimeSpan.FromSeconds(3));
        var toW1 = w1.ExpectMsg<ComputeGradient>(TimeSpan.FromSeconds(3));
        Assert.Equal((mine.Step, mine.Part, 1), (toW0.Step, toW0.Part, toW0.Attempt));
        Assert.Equal((late.Step, late.Part, 1), (toW1.Step, toW1.Part, toW1.Attempt));
        Assert.Equal(mine.Rows, toW0.Rows);
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
    public void Coordinator_should_end_the_job_with_a_clear_reason_when_the_parameter_server_reports_a_diverged_step()
    {
        var (coordinator, server, w0, w1, _) = Start(TimeSpan.FromMilliseconds(300), listenerProbe: true);
        var work = w0.ExpectMsg<ComputeGradient>();
        w1.ExpectMsg<ComputeGradient>();

        coordinator.Tell(new TrainingDiverged(0, work.Step, work.Part, 0, "the gradient or the loss holds NaN or infinity"), server.Ref);

        var failed = Listener!.ExpectMsg<TrainingFailed>();
        Assert.Contains($"the training diverged in epoch 1 at step {work.Step}", failed.Reason);
        Assert.Contains("NaN or infinity", failed.Reason);
        Assert.Contains("a lower learning rate may help", failed.Reason);
        // Ended, not re-driven: past the step timeout, no work goes out again.
        w0.ExpectNoMsg(TimeSpan.FromMilliseconds(900));
        w1.ExpectNoMsg(TimeSpan.Zero);
    }

    [Fact]
    public void Coordinator_should_publish_step_progress_with_accuracy_and_every_workers_status()
    {
        var (coordinator, server, w0, w1, settings) = Start(TimeSpan.FromSeconds(30), listenerProbe: true, progressEvery: 2);
        var started = DateTimeOffset.UtcNow;
        var correct = 0L;
        for (var step = 0; step < settings.StepsPerEpoch; step++)
        {
            foreach (var probe in new[] { w0, w1 })
            {
                var work = probe.ExpectMsg<ComputeGradient>();
                var right = probe == w0 ? work.Rows.Length : work.Rows.Length / 2; // worker 0 gets every row right
                correct += right;
                coordinator.Tell(new GradientAccepted(probe == w0 ? 0 : 1, 0, work.Step, work.Part, work.Version, work.Rows.Length, 0.5 * work.Rows.Length, 100, right),
                    server.Ref);
            }
            if (step == 1)
            {
                var half = Listener!.ExpectMsg<TrainingProgress>();
                Assert.Equal((1, 2, 4, 2L), (half.Epoch, half.StepInEpoch, half.StepsPerEpoch, half.Step));
                Assert.Equal((20, correct, 20L, correct), (half.EpochSamples, half.EpochCorrect, half.TotalSamples, half.TotalCorrect));
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
        Assert.Equal((4, 4L, 40, correct), (last.StepInEpoch, last.Step, last.EpochSamples, last.EpochCorrect));
        Assert.InRange(correct, 21, 39); // both workers' counts are in it
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

    [Fact]
    public void After_a_worker_crash_the_survivors_shards_should_cover_the_split_and_the_epoch_see_each_sample_once()
    {
        var crew = new Crew(this, workers: 3, minWorkers: 3);
        ComputeGradient? lost = null;
        crew.Crash = (id, work) => id == 1 && work.BatchIndex == 1 && (lost = work) is not null;
        crew.PumpUntil(() => crew.AcceptedRows == crew.Settings.TrainCount);

        // Worker 1 died holding a part of step 1: it went, same key, to the worker that took its rows.
        Assert.NotNull(lost);
        var again = crew.Work.Single(w => w.Worker != 1 && w.Work.Step == lost.Step && w.Work.Part == lost.Part);
        Assert.Equal(lost.Rows, again.Work.Rows);
        Assert.Equal(1, again.Work.Attempt);
        // From the next step on the two survivors split the rows evenly; every part was inside its worker's shard.
        Assert.Equal([0, 2], crew.Shards.Keys.Order());
        Assert.Equal(Enumerable.Range(0, crew.Settings.TrainCount), crew.Shards.Values.SelectMany(r => r).SelectMany(r => Enumerable.Range(r.Start, r.Count)).Order());
        Assert.Equal([20, 20], crew.Shards.Values.Select(r => r.Sum(x => x.Count)));
        Assert.True(crew.Work.Where(w => w.Work.BatchIndex >= 2).Select(w => w.Worker).Distinct().Count() == 2);

        var report = crew.FinishEpoch();
        Assert.Equal((crew.Settings.TrainCount, 0), (report.Samples, report.DuplicateSamples));
        Assert.True(report.RedrivenWork >= 1);
    }

    [Fact]
    public void A_worker_joining_during_training_should_get_a_shard_and_work_from_the_first_step_not_yet_handed_out()
    {
        var crew = new Crew(this, workers: 2, minWorkers: 2) { HoldAnswers = true };
        crew.PumpUntil(() => crew.Held.Count == 2); // step 0 is handed out and not yet answered
        crew.Join(2); // registered before step 0's answers arrive
        crew.HoldAnswers = false;
        crew.ReleaseHeld();
        crew.PumpUntil(() => crew.AcceptedRows == crew.Settings.TrainCount);

        // Step 1 may have gone out ahead, during step 0, over the shards of that time: then the newcomer's rows count
        // from step 2. Every step from its first on has a part for it.
        var first = crew.Work.First(w => w.Worker == 2).Work;
        Assert.InRange(first.BatchIndex, 1, 2);
        Assert.All(Enumerable.Range(first.BatchIndex, crew.Settings.StepsPerEpoch - first.BatchIndex),
            step => Assert.Contains(crew.Work, w => w.Worker == 2 && w.Work.BatchIndex == step));
        Assert.Equal([13, 13, 14], crew.Shards.OrderBy(s => s.Key).Select(s => s.Value.Sum(r => r.Count)));
        var report = crew.FinishEpoch();
        Assert.Equal((crew.Settings.TrainCount, 0), (report.Samples, report.DuplicateSamples));
    }

    private Akka.TestKit.TestProbe? Listener { get; set; }

    private Dictionary<int, RowRange[]> Shards { get; } = [];

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
        foreach (var (id, probe) in new[] { (0, w0), (1, w1) })
        {
            var shard = probe.ExpectMsg<AssignShard>();
            Shards[id] = shard.Ranges;
            coordinator.Tell(new ShardReady(shard.AssignmentId, id, shard.Ranges.Sum(r => r.Count)), probe.Ref);
        }
        return (coordinator, server, w0, w1, settings);
    }

    /// <summary>What a relay heard: a message the coordinator sent to worker <see cref="WorkerId"/>.</summary>
    private sealed record Heard(int WorkerId, object Message) : INoSerializationVerificationNeeded;

    /// <summary>Stands in for a worker: forwards everything it gets to the test, which answers on its behalf.</summary>
    private sealed class Relay : ReceiveActor
    {
        public Relay(int id, IActorRef monitor) => ReceiveAny(m => monitor.Tell(new Heard(id, m)));
    }

    /// <summary>
    /// Workers played by the test through relays, all heard in one ordered queue: each shard is confirmed at once, and
    /// each part is checked against its worker's shard and accepted (as the parameter server would) unless held. A
    /// part sent ahead for the next step waits until the open step is complete, as it waits for its weights.
    /// </summary>
    private sealed class Crew
    {
        private readonly TestKit _kit;
        private readonly Akka.TestKit.TestProbe _monitor;
        private readonly Akka.TestKit.TestProbe _server;
        private readonly Akka.TestKit.TestProbe _listener;
        private readonly Dictionary<int, IActorRef> _relays = [];
        private readonly List<(int Worker, ComputeGradient Work)> _ahead = [];
        private long _openStep;
        private int _openStepRows;

        public Crew(TestKit kit, int workers, int minWorkers)
        {
            _kit = kit;
            _monitor = kit.CreateTestProbe();
            _server = kit.CreateTestProbe();
            _listener = kit.CreateTestProbe();
            Settings = new CoordinatorSettings(TrainingMode.Sync, 1, 10, 7, 40, Parameters, minWorkers) { StepTimeout = TimeSpan.FromSeconds(30) };
            Coordinator = kit.Sys.ActorOf(CoordinatorActor.Props(Settings, _server.Ref, null, _listener.Ref));
            _server.ExpectMsg<RegisterCoordinator>();
            for (var i = 0; i < workers; i++)
            {
                Join(i);
            }
        }

        public CoordinatorSettings Settings { get; }
        public IActorRef Coordinator { get; }
        public Dictionary<int, RowRange[]> Shards { get; } = [];
        public List<(int Worker, ComputeGradient Work)> Work { get; } = [];
        public List<(int Worker, ComputeGradient Work)> Held { get; } = [];
        public int AcceptedRows { get; private set; }
        public bool HoldAnswers { get; set; }

        /// <summary>True: the worker dies on receiving this work, without answering.</summary>
        public Func<int, ComputeGradient, bool> Crash { get; set; } = (_, _) => false;

        public void Join(int id)
        {
            _relays[id] = _kit.Sys.ActorOf(Props.Create(() => new Relay(id, _monitor.Ref)));
            Coordinator.Tell(new RegisterWorker(id, Parameters), _relays[id]);
        }

        public void PumpUntil(Func<bool> done)
        {
            while (!done())
            {
                Handle(_monitor.ExpectMsg<Heard>(TimeSpan.FromSeconds(10)));
            }
        }

        public void ReleaseHeld()
        {
            foreach (var (worker, work) in Held.ToList())
            {
                Answer(worker, work);
            }
            Held.Clear();
        }

        public EpochReport FinishEpoch()
        {
            _server.ExpectMsg<PullParameters>(p => p.WorkerId == -1);
            Coordinator.Tell(new ParametersSnapshot(Settings.StepsPerEpoch, Parameters, 0, new float[Parameters]), _server.Ref);
            return _listener.ExpectMsg<EpochReport>();
        }

        private void Handle(Heard heard)
        {
            var id = heard.WorkerId;
            if (!_relays.TryGetValue(id, out var relay))
            {
                return; // a crashed worker's relay may still forward what was queued for it
            }
            switch (heard.Message)
            {
                case AssignShard shard:
                    Assert.Equal(id, shard.WorkerId);
                    Shards[id] = shard.Ranges;
                    foreach (var dead in Shards.Keys.Where(k => !_relays.ContainsKey(k)).ToList())
                    {
                        Shards.Remove(dead);
                    }
                    Coordinator.Tell(new ShardReady(shard.AssignmentId, id, shard.Ranges.Sum(r => r.Count)), relay);
                    break;
                case ComputeGradient work:
                    Assert.All(work.Rows, row => Assert.Contains(Shards[id], r => row >= r.Start && row < r.End));
                    Work.Add((id, work));
                    if (Crash(id, work))
                    {
                        _kit.Sys.Stop(_relays[id]);
                        _relays.Remove(id);
                        Shards.Remove(id);
                    }
                    else if (HoldAnswers)
                    {
                        Held.Add((id, work));
                    }
                    else
                    {
                        Answer(id, work);
                    }
                    break;
            }
        }

        private void Answer(int id, ComputeGradient work)
        {
            if (work.Step > _openStep)
            {
                _ahead.Add((id, work));
            }
            else
            {
                Accept(id, work);
            }
        }

        private void Accept(int id, ComputeGradient work)
        {
            AcceptedRows += work.Rows.Length;
            Coordinator.Tell(new GradientAccepted(id, work.Epoch, work.Step, work.Part, work.Version + 1, work.Rows.Length, 1.0, 100, 0), _server.Ref);
            if (work.Step != _openStep || (_openStepRows += work.Rows.Length) < work.StepSamples)
            {
                return;
            }
            _openStep++;
            _openStepRows = 0;
            var due = _ahead.Where(a => a.Work.Step == _openStep && _relays.ContainsKey(a.Worker)).ToList();
            _ahead.RemoveAll(a => a.Work.Step <= _openStep);
            foreach (var (worker, next) in due)
            {
                Accept(worker, next);
            }
        }
    }
}
