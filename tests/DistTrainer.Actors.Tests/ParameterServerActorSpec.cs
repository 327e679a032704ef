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
    public void ParameterServer_should_tell_a_late_registering_coordinator_about_a_step_applied_before_it_registered()
    {
        // Across nodes a worker's first gradient can overtake the coordinator's RegisterCoordinator.
        var settings = new ParameterServerSettings(TrainingMode.Sync, new OptimizerOptions(OptimizerKind.Sgd, LearningRate)) { ChunkFloats = ChunkFloats };
        var server = Sys.ActorOf(ParameterServerActor.Props(settings, TestData.Random(Length, 1)));
        var worker = CreateTestProbe();
        server.Tell(new PullParameters(0), worker.Ref);
        worker.ExpectSnapshot(server, Length, out _);
        server.PushFrom(worker.Ref, TestData.Random(Length, 2), version: 0, step: 0, part: 0, stepSamples: 4, samples: 4, ChunkFloats, transferId: 1, loss: 1.5);
        worker.ExpectSnapshot(server, Length, out var version);
        Assert.Equal(1, version);

        var coordinator = CreateTestProbe();
        server.Tell(new RegisterCoordinator(Length), coordinator.Ref);

        coordinator.ExpectMsg<GradientAccepted>(a => a.Step == 0 && a.Part == 0 && a.SampleCount == 4);
        var applied = coordinator.ExpectMsg<StepApplied>();
        Assert.Equal((0L, 1L, 4, 1.5), (applied.Step, applied.Version, applied.Samples, applied.Loss));
    }

    [Theory]
    [InlineData(ChunkFloats)] // chunked, as from a remote worker
    [InlineData(Length)] // inline: the last part is read in place by the fused step
    public void ParameterServer_should_sum_the_parts_of_a_sync_step_in_part_order_whatever_order_they_arrive_in(int pushChunkFloats)
    {
        // Spread magnitudes make float sums depend on their order; the check below proves they do for these values.
        var parts = new[] { Scaled(TestData.Random(Length, 6), 1e3f), TestData.Random(Length, 7), Scaled(TestData.Random(Length, 8), 1e-3f) };
        Assert.Contains(Enumerable.Range(0, Length), i => (parts[0][i] + parts[1][i]) + parts[2][i] != (parts[2][i] + parts[1][i]) + parts[0][i]);

        float[]? first = null;
        int[][] arrivals = [[0, 1, 2], [0, 2, 1], [1, 0, 2], [1, 2, 0], [2, 0, 1], [2, 1, 0]];
        foreach (var arrival in arrivals)
        {
            var weights = StepWeights(parts, arrival, pushChunkFloats);
            first ??= weights;
            Assert.True(first.AsSpan().SequenceEqual(weights), $"arrival order {string.Join(",", arrival)} gave other weights than 0,1,2");
        }
    }

    [Fact]
    public void ParameterServer_should_give_a_two_part_step_read_in_place_the_same_weights_as_one_summed_from_chunks()
    {
        var parts = new[] { Scaled(TestData.Random(Length, 9), 1e3f), Scaled(TestData.Random(Length, 10), 1e-3f) };

        float[]? first = null;
        foreach (var pushChunkFloats in new[] { ChunkFloats, Length }) // chunked parts are summed first; inline ones are read in place
        {
            foreach (var arrival in new[] { new[] { 0, 1 }, [1, 0] })
            {
                var weights = StepWeights(parts, arrival, pushChunkFloats);
                first ??= weights;
                Assert.True(first.AsSpan().SequenceEqual(weights), $"{pushChunkFloats} floats per chunk, arrival order {string.Join(",", arrival)} gave other weights");
            }
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
        Assert.Contains("NaN", coordinator.ExpectMsg<TrainingDiverged>().Reason);

        // Infinite loss.
        server.PushFrom(worker.Ref, TestData.Random(Length, 6), 0, 0, 0, 5, 5, ChunkFloats, transferId: 11, loss: double.PositiveInfinity);
        Assert.Contains("NaN or infinity", worker.ExpectMsg<GradientRejected>().Reason);
        Assert.Contains("NaN or infinity", coordinator.ExpectMsg<TrainingDiverged>().Reason);

        // Unknown (future) version.
        server.PushFrom(worker.Ref, TestData.Random(Length, 7), 3, 3, 0, 5, 5, ChunkFloats, transferId: 12);
        Assert.Contains("unknown version", worker.ExpectMsg<GradientRejected>().Reason);

        // A negative part has no place in the step's part order.
        server.PushFrom(worker.Ref, TestData.Random(Length, 7), 0, 0, -1, 5, 5, ChunkFloats, transferId: 16);
        Assert.Contains("part -1 of step 0 is negative", worker.ExpectMsg<GradientRejected>().Reason);

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

    [Theory]
    [InlineData(ChunkFloats)] // chunked, as from a remote worker: checked on arrival
    [InlineData(Length)] // inline: read in place, so checked by the optimizer's own pass
    public void ParameterServer_should_refuse_a_last_part_holding_infinity_and_apply_the_step_when_a_finite_one_comes(int pushChunkFloats)
    {
        var (server, coordinator, worker, initial) = Start(TrainingMode.Sync);
        var g0 = TestData.Random(Length, 2);
        var g1 = TestData.Random(Length, 3);
        server.PushFrom(worker.Ref, g0, version: 0, step: 0, part: 0, stepSamples: 4, samples: 2, pushChunkFloats, transferId: 1);
        coordinator.ExpectMsg<GradientAccepted>(a => a.Part == 0);

        var bad = (float[])g1.Clone();
        bad[Length - 1] = float.PositiveInfinity;
        server.PushFrom(worker.Ref, bad, version: 0, step: 0, part: 1, stepSamples: 4, samples: 2, pushChunkFloats, transferId: 2);
        Assert.Contains("NaN or infinity", worker.ExpectMsg<GradientRejected>().Reason);
        var diverged = coordinator.ExpectMsg<TrainingDiverged>();
        Assert.Equal((0, 0L, 1, 0L), (diverged.WorkerId, diverged.Step, diverged.Part, diverged.Version));
        coordinator.ExpectNoMsg(TimeSpan.FromMilliseconds(100));
        server.Tell(new PullParameters(-1), worker.Ref);
        Assert.Equal(initial, worker.ExpectSnapshot(server, Length, out var version));
        Assert.Equal(0, version);

        // The step is still open with part 0 in it: the finite part 1 completes it.
        server.PushFrom(worker.Ref, g1, version: 0, step: 0, part: 1, stepSamples: 4, samples: 2, pushChunkFloats, transferId: 3);
        coordinator.ExpectMsg<GradientAccepted>(a => a.Part == 1);
        Assert.Equal((1L, 4), coordinator.ExpectMsg<StepApplied>() is var applied ? (applied.Version, applied.Samples) : default);
        var weights = worker.ExpectSnapshot(server, Length, out version);
        Assert.Equal(1, version);
        for (var i = 0; i < Length; i++)
        {
            Assert.Equal(initial[i] - LearningRate * ((double)g0[i] + g1[i]) / 4.0, weights[i], 5);
        }
    }

    [Theory]
    [InlineData(ChunkFloats)]
    [InlineData(Length)]
    public void ParameterServer_should_refuse_a_step_whose_update_overflows_and_keep_its_weights(int pushChunkFloats)
    {
        // Each part is finite; their sum is not: a training that diverged.
        var (server, coordinator, worker, initial) = Start(TrainingMode.Sync);
        var huge = Enumerable.Repeat(3e38f, Length).ToArray();
        server.PushFrom(worker.Ref, huge, version: 0, step: 0, part: 0, stepSamples: 2, samples: 1, pushChunkFloats, transferId: 1);
        coordinator.ExpectMsg<GradientAccepted>(a => a.Part == 0);

        EventFilter.Error(contains: "the training diverged").ExpectOne(() =>
        {
            server.PushFrom(worker.Ref, huge, version: 0, step: 0, part: 1, stepSamples: 2, samples: 1, pushChunkFloats, transferId: 2);
            Assert.Contains("diverged", worker.ExpectMsg<GradientRejected>().Reason);
        });
        Assert.Contains("the training diverged", coordinator.ExpectMsg<TrainingDiverged>().Reason);
        coordinator.ExpectNoMsg(TimeSpan.FromMilliseconds(100));
        server.Tell(new PullParameters(-1), worker.Ref);
        Assert.Equal(initial, worker.ExpectSnapshot(server, Length, out var version));
        Assert.Equal(0, version);
    }

    [Fact]
    public void ParameterServer_should_refuse_a_gradient_holding_NaN_in_async_mode_and_answer_with_unchanged_weights()
    {
        var (server, coordinator, worker, initial) = Start(TrainingMode.Async);
        var nan = TestData.Random(Length, 4);
        nan[7] = float.NaN;
        server.PushFrom(worker.Ref, nan, version: -1, step: 0, part: 0, stepSamples: 3, samples: 3, Length, transferId: 1);
        Assert.Contains("NaN or infinity", worker.ExpectMsg<GradientRejected>().Reason);
        Assert.Equal(initial, worker.ExpectSnapshot(server, Length, out var version));
        Assert.Equal(0, version);
        Assert.Contains("NaN or infinity", coordinator.ExpectMsg<TrainingDiverged>().Reason);
    }

    [Fact]
    public void ParameterServer_should_continue_from_a_restored_checkpoint_exactly_as_the_server_it_came_from()
    {
        var (original, originalCoordinator, originalWorker, _) = Start(TrainingMode.Sync, OptimizerKind.Adam);
        var g1 = TestData.Random(Length, 20);
        var g2 = TestData.Random(Length, 21);
        original.Tell(new PullTrainingState(9, AtVersion: 1), originalCoordinator.Ref); // due after the first step
        originalCoordinator.ExpectNoMsg(TimeSpan.FromMilliseconds(100));
        original.PushFrom(originalWorker.Ref, g1, version: 0, step: 0, part: 0, stepSamples: 4, samples: 4, ChunkFloats, transferId: 1);
        originalWorker.ExpectSnapshot(original, Length, out _);
        originalCoordinator.ExpectMsg<GradientAccepted>();
        var state = originalCoordinator.ExpectMsg<TrainingState>();
        originalCoordinator.ExpectMsg<StepApplied>();
        original.Tell(new PullTrainingState(10, AtVersion: -1), originalCoordinator.Ref);
        Assert.Equal(state.Data, originalCoordinator.ExpectMsg<TrainingState>().Data);
        Assert.Equal((9L, 1L, Length, 3 * Length + 1), (state.RequestId, state.Version, state.WeightCount, state.Length)); // weights, Adam's t, m, v
        Assert.Equal(1f, state.Data[Length]);

        // A fresh server with other weights takes the checkpoint in chunks, tells its worker, and then steps identically.
        var (restored, coordinator, worker, _) = Start(TrainingMode.Sync, OptimizerKind.Adam, seed: 30);
        var tensor = Transfer.OutgoingTensor.Create(state.Data, 5, ChunkFloats);
        tensor.SendChunks(restored, coordinator.Ref);
        restored.Tell(new RestoreTrainingState(state.Version, state.WeightCount, tensor.Length, tensor.TransferId, tensor.Inline), coordinator.Ref);
        Assert.Equal(new TrainingStateRestored(1, null), coordinator.ExpectMsg<TrainingStateRestored>());
        Assert.Equal(state.Data[..Length], worker.ExpectSnapshot(restored, Length, out var version));
        Assert.Equal(1, version);

        original.PushFrom(originalWorker.Ref, g2, version: 1, step: 1, part: 0, stepSamples: 4, samples: 4, ChunkFloats, transferId: 2);
        restored.PushFrom(worker.Ref, g2, version: 1, step: 1, part: 0, stepSamples: 4, samples: 4, ChunkFloats, transferId: 2);
        var expected = originalWorker.ExpectSnapshot(original, Length, out _);
        Assert.Equal(expected, worker.ExpectSnapshot(restored, Length, out version));
        Assert.Equal(2, version);
    }

    [Fact]
    public void ParameterServer_should_refuse_a_checkpoint_of_another_shape_and_keep_its_weights()
    {
        var (server, coordinator, worker, initial) = Start(TrainingMode.Sync, OptimizerKind.Adam);
        server.Tell(new RestoreTrainingState(3, Length - 1, 3 * Length - 2, 0, new float[3 * Length - 2]), coordinator.Ref);
        Assert.Contains($"holds {Length - 1} weights", coordinator.ExpectMsg<TrainingStateRestored>().Error);
        server.Tell(new RestoreTrainingState(3, Length, Length + 5, 0, new float[Length + 5]), coordinator.Ref); // SGD-sized state for Adam
        Assert.Contains("adam", coordinator.ExpectMsg<TrainingStateRestored>().Error);
        var nan = new float[3 * Length + 1];
        nan[2] = float.NaN;
        server.Tell(new RestoreTrainingState(3, Length, nan.Length, 0, nan), coordinator.Ref);
        Assert.Contains("NaN", coordinator.ExpectMsg<TrainingStateRestored>().Error);

        worker.ExpectNoMsg(TimeSpan.FromMilliseconds(100));
        server.Tell(new PullParameters(-1), worker.Ref);
        Assert.Equal(initial, worker.ExpectSnapshot(server, Length, out var version));
        Assert.Equal(0, version);
    }

    /// <summary>A fresh sync server's weights after one step whose parts (2 samples each) arrive in the given order.</summary>
    private float[] StepWeights(float[][] parts, int[] arrival, int pushChunkFloats)
    {
        var (server, coordinator, worker, _) = Start(TrainingMode.Sync);
        var transferId = 0;
        foreach (var part in arrival)
        {
            server.PushFrom(worker.Ref, parts[part], version: 0, step: 0, part, stepSamples: 2 * parts.Length, samples: 2, pushChunkFloats, transferId: ++transferId);
            coordinator.ExpectMsg<GradientAccepted>(a => a.Part == part);
        }
        Assert.Equal(1, coordinator.ExpectMsg<StepApplied>().Version);
        return worker.ExpectSnapshot(server, Length, out _);
    }

    private static float[] Scaled(float[] values, float factor) => [.. values.Select(v => v * factor)];

    private (IActorRef Server, TestProbe Coordinator, TestProbe Worker, float[] Initial) Start(TrainingMode mode, OptimizerKind optimizer = OptimizerKind.Sgd, int seed = 1)
    {
        var initial = TestData.Random(Length, seed);
        var settings = new ParameterServerSettings(mode, new OptimizerOptions(optimizer, LearningRate)) { ChunkFloats = ChunkFloats };
        var server = Sys.ActorOf(ParameterServerActor.Props(settings, initial));
        var coordinator = CreateTestProbe();
        server.Tell(new RegisterCoordinator(Length), coordinator.Ref);
        var worker = CreateTestProbe();
        server.Tell(new PullParameters(0), worker.Ref);
        Assert.Equal(initial, worker.ExpectSnapshot(server, Length, out _));
        return (server, coordinator, worker, initial);
    }
}
