using DistTrainer.Numerics.Data;
using DistTrainer.Numerics.Models;
using DistTrainer.Numerics.Optimizers;
using DistTrainer.Numerics.Training;

namespace DistTrainer.Numerics.Tests.Training;

public class TrainerTests
{
    private const int Samples = 203;
    private const int Features = 10;
    private const int Classes = 3;

    /// <remarks>
    /// With two threads the model is wide enough (64 × 256 × 128 products, over 4 MFLOP) for the kernels to split the
    /// work across the compute pool. The count is of the calling thread's allocations, which include the hand-off to
    /// the pool; the pool's own threads allocate their scratch once, during warm-up.
    /// </remarks>
    [Theory]
    [InlineData(OptimizerKind.Adam, 1, new[] { 32, 16 })]
    [InlineData(OptimizerKind.Nesterov, 1, new[] { 32, 16 })]
    [InlineData(OptimizerKind.Sgd, 1, new int[0])]
    [InlineData(OptimizerKind.Adam, 2, new[] { 256, 128 })]
    public void Training_step_should_allocate_nothing_after_warm_up(OptimizerKind kind, int threads, int[] hidden)
    {
        const int batch = 64;
        var data = SyntheticData();
        var model = new Mlp(Mlp.CreateSpec(Features, hidden, Classes, Activation.Relu, TaskKind.Classification));
        var trainer = new Trainer(model, data, new TrainingOptions(1, batch, new OptimizerOptions(kind, 0.01f, WeightDecay: 0.01f), 7, threads));
        var order = EpochOrder.Create(7, 0, Samples);
        var steps = (Samples + batch - 1) / batch;
        // Past the runtime's 30-call threshold for tiering up, whose bookkeeping allocates once on the calling thread.
        for (var warmUp = 0; warmUp < 64; warmUp++)
        {
            var start = warmUp % steps * batch;
            trainer.TrainStep(order.AsSpan(start, Math.Min(batch, Samples - start)));
        }

        // Every 4th batch is the short last one of the epoch (203 = 3 × 64 + 11).
        var before = GC.GetAllocatedBytesForCurrentThread();
        for (var step = 0; step < 100; step++)
        {
            var start = step % steps * batch;
            trainer.TrainStep(order.AsSpan(start, Math.Min(batch, Samples - start)));
        }
        var allocated = GC.GetAllocatedBytesForCurrentThread() - before;

        Assert.Equal(0, allocated);
    }

    [Fact]
    public void Trainer_should_stop_at_the_first_step_whose_loss_is_not_finite_and_keep_the_weights_before_it()
    {
        var data = SyntheticData();
        var model = new Mlp(Mlp.CreateSpec(Features, [16], Classes, Activation.Relu, TaskKind.Classification));
        var trainer = new Trainer(model, data, new TrainingOptions(1, 32, new OptimizerOptions(OptimizerKind.Sgd, 1e30f), 3, 1));
        var order = EpochOrder.Create(3, 0, Samples);
        float[]? before = null;

        var diverged = Assert.Throws<TrainingDivergedException>(() =>
        {
            for (var step = 0; step < 6; step++)
            {
                before = (float[])trainer.Weights.Clone();
                trainer.TrainStep(order.AsSpan(step * 32, 32));
            }
        });

        Assert.InRange(diverged.Step, 1, 5); // the first step is on finite initial weights
        Assert.Contains($"diverged at step {diverged.Step}", diverged.Message);
        Assert.Equal(before, trainer.Weights);
        Assert.Equal(diverged.Step, trainer.Step);
    }

    [Fact]
    public void Trainer_should_expose_the_correct_count_of_a_step_as_predicted_with_the_weights_before_it()
    {
        const int batch = 12;
        var data = SyntheticData();
        var model = new Mlp(Mlp.CreateSpec(Features, [8], Classes, Activation.Tanh, TaskKind.Classification));
        var trainer = new Trainer(model, data, new TrainingOptions(1, batch, new OptimizerOptions(OptimizerKind.Adam, 0.01f), 3, 1));
        var order = EpochOrder.Create(3, 0, Samples);
        for (var step = 0; step < 5; step++)
        {
            var rows = order.AsSpan(step * batch, batch);
            var probabilities = model.Predict(trainer.Weights, Gather(data, rows), batch, model.CreateWorkspace(batch)).ToArray();
            var expected = 0;
            for (var r = 0; r < batch; r++)
            {
                expected += Evaluator.ArgMax(probabilities.AsSpan(r * Classes, Classes)) == (int)data.Targets[rows[r]] ? 1 : 0;
            }

            trainer.TrainStep(rows);

            Assert.Equal(expected, trainer.LastCorrect);
        }
    }

    [Fact]
    public void Training_with_the_same_seed_should_give_identical_weights()
    {
        var first = Train(seed: 5);
        var second = Train(seed: 5);
        Assert.Equal(first, second);
    }

    [Fact]
    public void Training_with_different_seeds_should_give_different_weights()
    {
        var first = Train(seed: 5);
        var second = Train(seed: 6);
        Assert.NotEqual(first, second);
    }

    [Fact]
    public void Training_should_lower_the_loss_on_separable_data()
    {
        var data = SyntheticData();
        var model = new Mlp(Mlp.CreateSpec(Features, [16], Classes, Activation.Tanh, TaskKind.Classification));
        var trainer = new Trainer(model, data, new TrainingOptions(1, 16, new OptimizerOptions(OptimizerKind.Adam, 0.01f), 3));

        var first = trainer.TrainEpoch(0);
        EpochStats last = first;
        for (var epoch = 1; epoch < 20; epoch++)
        {
            last = trainer.TrainEpoch(epoch);
        }

        Assert.Equal(Samples, last.Samples);
        Assert.True(last.MeanLoss < 0.25 * first.MeanLoss, $"loss went from {first.MeanLoss} to {last.MeanLoss}");
    }

    [Fact]
    public void Epoch_order_should_be_a_permutation_that_depends_on_seed_and_epoch()
    {
        var order = EpochOrder.Create(42, 3, 1000);

        Assert.Equal(Enumerable.Range(0, 1000), order.Order());
        Assert.Equal(order, EpochOrder.Create(42, 3, 1000));
        Assert.NotEqual(order, EpochOrder.Create(42, 4, 1000));
        Assert.NotEqual(order, EpochOrder.Create(43, 3, 1000));
        Assert.NotEqual(Enumerable.Range(0, 1000), order);
    }

    [Fact]
    public void Trainer_should_feed_each_sample_once_per_epoch_with_its_own_features_and_target_and_apply_the_mean_gradient()
    {
        var data = SyntheticData();
        var model = new RecordingModel(Features);
        var trainer = new Trainer(model, data, new TrainingOptions(1, 50, new OptimizerOptions(OptimizerKind.Sgd, 1f), 9));

        var stats = trainer.TrainEpoch(2);

        var seen = model.Batches.SelectMany(b => b.Ids).ToArray();
        Assert.Equal(EpochOrder.Create(9, 2, Samples), seen);
        Assert.Equal([50, 50, 50, 50, 3], model.Batches.Select(b => b.Ids.Length));
        Assert.Equal([0L, 1, 2, 3, 4], model.Batches.Select(b => b.Step));
        foreach (var (ids, features, targets, _) in model.Batches)
        {
            for (var r = 0; r < ids.Length; r++)
            {
                Assert.Equal(data.Row(ids[r]).ToArray(), features.AsSpan(r * Features, Features).ToArray());
                Assert.Equal(data.Targets[ids[r]], targets[r]);
            }
        }
        // The model's gradient is 1 per sample and its loss 1 per sample: SGD with η = 1 moves the weight by −1 per step
        // (the mean), and the epoch's mean loss is 1.
        Assert.Equal(-5f, trainer.Weights[0]);
        Assert.Equal(1.0, stats.MeanLoss);
        Assert.Equal(5, trainer.Step);
    }

    private static float[] Train(int seed)
    {
        var data = SyntheticData();
        var model = new Mlp(Mlp.CreateSpec(Features, [16], Classes, Activation.Relu, TaskKind.Classification));
        var trainer = new Trainer(model, data, new TrainingOptions(2, 32, new OptimizerOptions(), seed));
        trainer.TrainEpoch(0);
        trainer.TrainEpoch(1);
        return trainer.Weights;
    }

    /// <summary>Three Gaussian blobs in 10 dimensions, seeded.</summary>
    private static float[] Gather(Dataset data, ReadOnlySpan<int> rows)
    {
        var features = new float[rows.Length * data.FeatureCount];
        for (var r = 0; r < rows.Length; r++)
        {
            data.Row(rows[r]).CopyTo(features.AsSpan(r * data.FeatureCount));
        }
        return features;
    }

    private static Dataset SyntheticData()
    {
        var rng = SeededRandom.For(1234, 1);
        var features = new float[Samples * Features];
        var targets = new float[Samples];
        for (var r = 0; r < Samples; r++)
        {
            var label = r % Classes;
            targets[r] = label;
            for (var c = 0; c < Features; c++)
            {
                features[r * Features + c] = (c % Classes == label ? 1.5f : 0f) + rng.NextGaussian();
            }
        }
        var names = Enumerable.Range(0, Features).Select(c => $"x{c}").ToArray();
        return new Dataset("blobs", names, "label", TaskKind.Classification, Classes, features, targets);
    }

    /// <summary>A one-parameter model that records every batch and reports gradient 1 and loss 1 per sample.</summary>
    private sealed class RecordingModel(int inputs) : IModel
    {
        public List<(int[] Ids, float[] Features, float[] Targets, long Step)> Batches { get; } = [];

        public ModelSpec Spec { get; } = Mlp.CreateSpec(inputs, [], Classes, Activation.Relu, TaskKind.Classification);

        public int ParameterCount => 1;

        public void Initialize(Span<float> weights, int seed) => weights.Clear();

        public ModelWorkspace CreateWorkspace(int maxBatch, int threads = 1) => new Workspace(maxBatch, threads);

        public double AccumulateGradient(ReadOnlySpan<float> weights, in Batch batch, Span<float> gradientSum, ModelWorkspace workspace)
        {
            Batches.Add((batch.SampleIds.ToArray(), batch.Features.ToArray(), batch.Targets.ToArray(), batch.Step));
            gradientSum[0] += batch.Count;
            return batch.Count;
        }

        private sealed class Workspace(int maxBatch, int threads) : ModelWorkspace(maxBatch, threads);
    }
}
