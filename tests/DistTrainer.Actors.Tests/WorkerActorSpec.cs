using Akka.Actor;
using Akka.TestKit.Xunit2;
using DistTrainer.Actors.Messages;
using DistTrainer.Actors.Transfer;
using DistTrainer.Actors.Worker;
using DistTrainer.Numerics.Data;
using DistTrainer.Numerics.Models;

namespace DistTrainer.Actors.Tests;

public sealed class WorkerActorSpec : TestKit
{
    private const int ChunkFloats = 500;

    public WorkerActorSpec() : base(TestData.SpecConfig)
    {
    }

    [Fact]
    public void Worker_should_push_the_gradient_the_model_computes_for_its_rows()
    {
        var (worker, coordinator, server, model, weights) = StartWorker();
        int[] rows = [3, 17, 250, 999, 5];
        worker.Tell(new ComputeGradient(0, 0, 0, 1, 0, 0, 12, rows), coordinator.Ref);

        var assembler = new ChunkAssembler(4, model.ParameterCount);
        var push = server.ExpectTensorMessage<PushGradients>(assembler, worker);
        Assert.True(assembler.TryTake(worker, push.Length, push.TransferId, push.Gradients, model.ParameterCount, out var tensor, out var reason), reason);
        var pushed = new float[model.ParameterCount];
        tensor.CopyTo(pushed);

        var (expected, loss) = Reference(model, weights, rows, step: 0);
        Assert.Equal((0, 0L, 1, 0L, 12, 5), (push.WorkerId, push.Step, push.Part, push.Version, push.StepSamples, push.SampleCount));
        Assert.Equal(loss, push.Loss, 6);
        Assert.True(pushed.Zip(expected).Max(p => Math.Abs(p.First - p.Second)) <= 1e-6f);
    }

    [Fact]
    public void Worker_should_wait_for_the_weights_version_its_work_names()
    {
        var (worker, coordinator, server, model, weights) = StartWorker();
        int[] rows = [1, 2, 3];
        worker.Tell(new ComputeGradient(0, 1, 1, 0, 1, 0, 3, rows), coordinator.Ref);
        server.ExpectNoMsg(TimeSpan.FromMilliseconds(200));

        var next = weights.Select(w => w * 0.5f).ToArray();
        SendWeights(worker, server.Ref, next, version: 1);
        var assembler = new ChunkAssembler(4, model.ParameterCount);
        var push = server.ExpectTensorMessage<PushGradients>(assembler, worker);
        Assert.Equal(1, push.Version);
        assembler.TryTake(worker, push.Length, push.TransferId, push.Gradients, model.ParameterCount, out var tensor, out _);
        var pushed = new float[model.ParameterCount];
        tensor.CopyTo(pushed);
        var (expected, _) = Reference(model, next, rows, step: 1);
        Assert.True(pushed.Zip(expected).Max(p => Math.Abs(p.First - p.Second)) <= 1e-6f);
    }

    [Fact]
    public void Worker_should_ignore_a_bad_chunk_set_and_keep_working()
    {
        var (worker, coordinator, server, model, weights) = StartWorker();
        var broken = OutgoingTensor.Create(weights.Select(w => w + 1).ToArray(), 77, ChunkFloats);
        foreach (var chunk in broken.Chunks.Skip(1))
        {
            worker.Tell(chunk, server.Ref);
        }
        worker.Tell(new ParametersSnapshot(1, broken.Length, broken.TransferId, []), server.Ref);
        worker.Tell(new ComputeGradient(0, 0, 0, 0, 0, 0, 2, [4, 8]), coordinator.Ref);
        var assembler = new ChunkAssembler(4, model.ParameterCount);
        var push = server.ExpectTensorMessage<PushGradients>(assembler, worker);
        Assert.Equal(0, push.Version); // still the good version-0 weights
    }

    [Fact]
    public void Worker_should_hold_only_the_rows_of_its_shard_and_compute_on_them_by_their_global_index()
    {
        RowRange[] shard = [new(10, 10), new(300, 5)];
        var (worker, coordinator, server, model, weights) = StartWorker(shard);
        int[] outside = [12, 20];
        worker.Tell(new ComputeGradient(0, 0, 0, 0, 0, 0, 2, outside), coordinator.Ref); // row 20 is not held: refused
        int[] rows = [304, 10, 19, 300];
        worker.Tell(new ComputeGradient(0, 0, 0, 1, 0, 0, 4, rows), coordinator.Ref);

        var assembler = new ChunkAssembler(4, model.ParameterCount);
        var push = server.ExpectTensorMessage<PushGradients>(assembler, worker);
        Assert.Equal((1, 4), (push.Part, push.SampleCount));
        Assert.True(assembler.TryTake(worker, push.Length, push.TransferId, push.Gradients, model.ParameterCount, out var tensor, out var reason), reason);
        var pushed = new float[model.ParameterCount];
        tensor.CopyTo(pushed);
        var (expected, loss) = Reference(model, weights, rows, step: 0);
        Assert.Equal(loss, push.Loss, 6);
        Assert.True(pushed.Zip(expected).Max(p => Math.Abs(p.First - p.Second)) <= 1e-6f);
    }

    [Fact]
    public void Worker_should_reload_on_a_new_assignment_and_answer_a_repeated_one_without_reloading()
    {
        var data = new CountingData(TestData.DigitsTrain);
        var (worker, coordinator, _, _, _) = StartWorker([new(0, 50)], data);
        worker.Tell(new AssignShard(2, 0, TestData.DigitsTrain.Count, [new(40, 30), new(900, 1)]), coordinator.Ref);
        Assert.Equal(new ShardReady(2, 0, 31), coordinator.ExpectMsg<ShardReady>());
        worker.Tell(new AssignShard(2, 0, TestData.DigitsTrain.Count, [new(40, 30), new(900, 1)]), coordinator.Ref);
        Assert.Equal(new ShardReady(2, 0, 31), coordinator.ExpectMsg<ShardReady>());
        Assert.Equal(2, data.Loads);
        Assert.Equal(31, data.LastShard!.Count);
    }

    [Fact]
    public void Worker_should_stop_when_its_shard_does_not_fit_its_data()
    {
        var (worker, coordinator, _, _, _) = StartWorker([new(0, 50)]);
        Watch(worker);
        worker.Tell(new AssignShard(2, 0, TestData.DigitsTrain.Count + 1, [new(0, 10)]), coordinator.Ref);
        ExpectTerminated(worker);
    }

    private (IActorRef Worker, Akka.TestKit.TestProbe Coordinator, Akka.TestKit.TestProbe Server, Mlp Model, float[] Weights) StartWorker(
        RowRange[]? shard = null, ITrainingData? data = null)
    {
        var spec = TestData.DigitsSpec(32);
        var model = new Mlp(spec);
        var weights = new float[model.ParameterCount];
        model.Initialize(weights, 5);
        var coordinator = CreateTestProbe();
        var server = CreateTestProbe();
        var train = TestData.DigitsTrain;
        var settings = new WorkerSettings(0, spec, 64) { ChunkFloats = ChunkFloats };
        var worker = Sys.ActorOf(WorkerActor.Props(settings, data ?? new InMemoryTrainingData(train), coordinator.Ref, server.Ref));
        Assert.Equal(model.ParameterCount, coordinator.ExpectMsg<RegisterWorker>().ParameterCount);
        server.ExpectMsg<PullParameters>();
        shard ??= [new RowRange(0, train.Count)];
        worker.Tell(new AssignShard(1, 0, train.Count, shard), coordinator.Ref);
        Assert.Equal(new ShardReady(1, 0, shard.Sum(r => r.Count)), coordinator.ExpectMsg<ShardReady>());
        SendWeights(worker, server.Ref, weights, version: 0);
        return (worker, coordinator, server, model, weights);
    }

    private static void SendWeights(IActorRef worker, IActorRef from, float[] weights, long version)
    {
        var tensor = OutgoingTensor.Create(weights, 100 + version, ChunkFloats);
        tensor.SendChunks(worker, from);
        worker.Tell(new ParametersSnapshot(version, tensor.Length, tensor.TransferId, tensor.Inline), from);
    }

    private static (float[] Gradient, double Loss) Reference(Mlp model, float[] weights, int[] rows, long step)
    {
        var train = TestData.DigitsTrain;
        var features = rows.SelectMany(r => train.Row(r).ToArray()).ToArray();
        var targets = rows.Select(r => train.Targets[r]).ToArray();
        var gradient = new float[model.ParameterCount];
        var loss = model.AccumulateGradient(weights, new Batch(features, targets, rows, step), gradient, model.CreateWorkspace(rows.Length));
        return (gradient, loss);
    }

    /// <summary>The in-memory data, counting loads and keeping the last shard it cut.</summary>
    private sealed class CountingData(Dataset train) : ITrainingData
    {
        public int Loads { get; private set; }

        public TrainingShard? LastShard { get; private set; }

        public int FeatureCount => train.FeatureCount;

        public TrainingShard LoadShard(IReadOnlyList<RowRange> ranges, int trainCount)
        {
            Loads++;
            return LastShard = TrainingShard.Cut(train, ranges, trainCount);
        }
    }
}
