using Akka.Actor;
using Akka.TestKit;
using Akka.TestKit.Xunit2;
using DistTrainer.Actors.Messages;
using DistTrainer.Actors.ParameterServer;
using DistTrainer.Numerics.Optimizers;

namespace DistTrainer.Actors.Tests;

public sealed class ParameterServerActorSpec : TestKit
{
    private const int Length = 40;
    private const int ChunkFloats = 16;
    private const float LearningRate = 0.5f;

    public ParameterServerActorSpec() : base(TestData.SpecConfig)
    {
    }

    [Fact]
    public void ParameterServer_should_average_gradients_by_sample_count()
    {
        var (server, coordinator, worker, initial) = Start(TrainingMode.Sync);
        var other = CreateTestProbe();
        var g1 = TestData.Random(Length, 2);
        var g2 = TestData.Random(Length, 3);
        server.PushFrom(worker.Ref, g1, version: 0, step: 0, part: 0, stepSamples: 5, samples: 3, ChunkFloats, transferId: 1, loss: 2.0, correct: 2);
        coordinator.ExpectMsg<GradientAccepted>(a => a.Part == 0 && a.SampleCount == 3 && a.Correct == 2);
        worker.ExpectNoMsg(TimeSpan.FromMilliseconds(100)); // waits for the rest of the global batch
        server.PushFrom(other.Ref, g2, version: 0, step: 0, part: 1, stepSamples: 5, samples: 2, ChunkFloats, transferId: 1, loss: 3.0);
        coordinator.ExpectMsg<GradientAccepted>(a => a.Part == 1);
        var applied = coordinator.ExpectMsg<StepApplied>();
        Assert.Equal((0L, 1L, 5, 5.0), (applied.Step, applied.Version, applied.Samples, applied.Loss));

        var weights = worker.ExpectSnapshot(server, Length, out var version);
        Assert.Equal(1, version);
        for (var i = 0; i < Length; i++)
        {
            var expected = initial[i] - LearningRate * ((double)g1[i] + g2[i]) / 5.0; // SGD on the sample-weighted mean
            Assert.Equal(expected, weights[i], 5);
        }
    }

    [Fact]
    public void ParameterServer_should_apply_each_gradient_on_arrival_in_async_mode()
    {
        var (server, coordinator, worker, initial) = Start(TrainingMode.Async);
        var g = TestData.Random(Length, 4);
        server.PushFrom(worker.Ref, g, version: 0, step: 7, part: 0, stepSamples: 4, samples: 4, ChunkFloats, transferId: 1);
        var weights = worker.ExpectSnapshot(server, Length, out var version);
        Assert.Equal(1, version);
        Assert.Equal(1, coordinator.ExpectMsg<GradientAccepted>().Version);
        for (var i = 0; i < Length; i++)
        {
            Assert.Equal(initial[i] - LearningRate * g[i] / 4.0, weights[i], 5);
        }

        // The same (step, part) again is a duplicate: refused, weights unchanged, and the worker still gets weights.
        server.PushFrom(worker.Ref, g, version: 1, step: 7, part: 0, stepSamples: 4, samples: 4, ChunkFloats, transferId: 2);
        Assert.StartsWith("duplicate", worker.ExpectMsg<GradientRejected>().Reason);
        Assert.Equal(weights, worker.ExpectSnapshot(server, Length, out _));
        coordinator.ExpectNoMsg(TimeSpan.FromMilliseconds(100));
    }

    [Fact]
    public void ParameterServer_should_reject_bad_gradients_and_leave_the_weights_unchanged()
    {
        var (server, coordinator, worker, initial) = Start(TrainingMode.Sync);

        // Wrong length, inline.
        server.Tell(new PushGradients(0, 0, 0, 0, 0, 5, 5, 1.0, 1, 3, 0, [1f, 2f, 3f], 0), worker.Ref);
        Assert.Contains("wrong shape", worker.ExpectMsg<GradientRejected>().Reason);

        // NaN.
        var nan = TestData.Random(Length, 5);
        nan[33] = float.NaN;
        server.PushFrom(worker.Ref, nan, 0, 0, 0, 5, 5, ChunkFloats, transferId: 10);
        Assert.Contains("NaN", worker.ExpectMsg<GradientRejected>().Reason);

        // Infinite loss.
        server.PushFrom(worker.Ref, TestData.Random(Length, 6), 0, 0, 0, 5, 5, ChunkFloats, transferId: 11, loss: double.PositiveInfinity);
        Assert.Contains("NaN or infinity", worker.ExpectMsg<GradientRejected>().Reason);

        // Unknown (future) version.
        server.PushFrom(worker.Ref, TestData.Random(Length, 7), 3, 3, 0, 5, 5, ChunkFloats, transferId: 12);
        Assert.Contains("unknown version", worker.ExpectMsg<GradientRejected>().Reason);

        // Bad chunk set: one chunk missing.
        var tensor = Transfer.OutgoingTensor.Create(TestData.Random(Length, 8), 13, ChunkFloats);
        foreach (var chunk in tensor.Chunks.Skip(1))
        {
            server.Tell(chunk, worker.Ref);
        }
        server.Tell(new PushGradients(0, 0, 0, 0, 0, 5, 5, 1.0, 1, Length, 13, [], 0), worker.Ref);
        Assert.Contains("incomplete", worker.ExpectMsg<GradientRejected>().Reason);

        coordinator.ExpectNoMsg(TimeSpan.FromMilliseconds(100));
        server.Tell(new PullParameters(-1), worker.Ref);
        Assert.Equal(initial, worker.ExpectSnapshot(server, Length, out var version));
        Assert.Equal(0, version);

        // Stale: a valid step moves to version 1, then a gradient for version 0 arrives.
        server.PushFrom(worker.Ref, TestData.Random(Length, 9), 0, 0, 0, 5, 5, ChunkFloats, transferId: 14);
        coordinator.ExpectMsg<GradientAccepted>();
        coordinator.ExpectMsg<StepApplied>();
        var afterStep = worker.ExpectSnapshot(server, Length, out _);
        server.PushFrom(worker.Ref, TestData.Random(Length, 10), 0, 0, 1, 5, 5, ChunkFloats, transferId: 15);
        Assert.Contains("stale version", worker.ExpectMsg<GradientRejected>().Reason);
        server.Tell(new PullParameters(-1), worker.Ref);
        Assert.Equal(afterStep, worker.ExpectSnapshot(server, Length, out _));
    }

    private (IActorRef Server, TestProbe Coordinator, TestProbe Worker, float[] Initial) Start(TrainingMode mode)
    {
        var initial = TestData.Random(Length, 1);
        var settings = new ParameterServerSettings(mode, new OptimizerOptions(OptimizerKind.Sgd, LearningRate)) { ChunkFloats = ChunkFloats };
        var server = Sys.ActorOf(ParameterServerActor.Props(settings, initial));
        var coordinator = CreateTestProbe();
        server.Tell(new RegisterCoordinator(Length), coordinator.Ref);
        var worker = CreateTestProbe();
        server.Tell(new PullParameters(0), worker.Ref);
        Assert.Equal(initial, worker.ExpectSnapshot(server, Length, out _));
        return (server, coordinator, worker, initial);
    }
}
