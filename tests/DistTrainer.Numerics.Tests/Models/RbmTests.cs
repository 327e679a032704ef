using DistTrainer.Numerics.Kernels;
using DistTrainer.Numerics.Models;

namespace DistTrainer.Numerics.Tests.Models;

public class RbmTests
{
    private const int V = 4;
    private const int H = 3;

    /// <summary>A tiny RBM with weights and biases large enough that every state matters.</summary>
    private static (Rbm Model, float[] Weights) Tiny(RbmOptions? options = null, int seed = 11)
    {
        var model = new Rbm(Rbm.CreateSpec(V, H), options);
        var weights = new float[model.ParameterCount];
        var rng = SeededRandom.For(seed, 99);
        for (var i = 0; i < weights.Length; i++)
        {
            weights[i] = rng.NextGaussian();
        }
        return (model, weights);
    }

    private static double Energy(float[] p, int[] v, int[] h)
    {
        double e = 0;
        for (var i = 0; i < V; i++)
        {
            e -= p[V * H + i] * v[i];
            for (var j = 0; j < H; j++)
            {
                e -= v[i] * p[i * H + j] * h[j];
            }
        }
        for (var j = 0; j < H; j++)
        {
            e -= p[V * H + V + j] * h[j];
        }
        return e;
    }

    private static int[] Bits(int value, int width) => Enumerable.Range(0, width).Select(b => (value >> b) & 1).ToArray();

    private static double LogSumExp(IEnumerable<double> values)
    {
        var list = values.ToList();
        var max = list.Max();
        return max + Math.Log(list.Sum(x => Math.Exp(x - max)));
    }

    private static double Sigmoid(double x) => 1 / (1 + Math.Exp(-x));

    [Fact]
    public void Rbm_free_energy_should_match_brute_force_enumeration()
    {
        var (model, w) = Tiny();
        var ws = model.CreateWorkspace(5);
        var all = new float[16 * V];
        for (var s = 0; s < 16; s++)
        {
            Array.Copy(Bits(s, V).Select(b => (float)b).ToArray(), 0, all, s * V, V);
        }
        var batched = new double[16];
        model.FreeEnergies(w, all, 16, batched, ws);
        for (var s = 0; s < 16; s++)
        {
            var v = Bits(s, V);
            var expected = -LogSumExp(Enumerable.Range(0, 1 << H).Select(t => -Energy(w, v, Bits(t, H))));
            Assert.Equal(expected, model.FreeEnergy(w, all.AsSpan(s * V, V)), 9);
            Assert.Equal(expected, batched[s], 4);
        }
    }

    [Fact]
    public void Rbm_log_partition_function_from_free_energies_should_match_joint_enumeration()
    {
        var (model, w) = Tiny();
        var fromFreeEnergy = LogSumExp(Enumerable.Range(0, 16).Select(s => -model.FreeEnergy(w, Bits(s, V).Select(b => (float)b).ToArray())));
        var joint = LogSumExp(Enumerable.Range(0, 1 << (V + H)).Select(s => -Energy(w, Bits(s & 15, V), Bits(s >> V, H))));
        Assert.Equal(joint, fromFreeEnergy, 9);
    }

    [Fact]
    public void Rbm_hidden_probabilities_should_match_enumerated_conditionals()
    {
        var (model, w) = Tiny();
        var dest = new float[H];
        for (var s = 0; s < 16; s++)
        {
            var v = Bits(s, V);
            model.HiddenProbabilities(w, v.Select(b => (float)b).ToArray(), 1, dest);
            var logZv = LogSumExp(Enumerable.Range(0, 1 << H).Select(t => -Energy(w, v, Bits(t, H))));
            for (var j = 0; j < H; j++)
            {
                var on = Enumerable.Range(0, 1 << H).Where(t => Bits(t, H)[j] == 1).Sum(t => Math.Exp(-Energy(w, v, Bits(t, H)) - logZv));
                Assert.Equal(on, dest[j], 5);
            }
        }
    }

    [Fact]
    public void Rbm_visible_probabilities_should_match_enumerated_conditionals()
    {
        var (model, w) = Tiny();
        var dest = new float[V];
        for (var t = 0; t < 1 << H; t++)
        {
            var h = Bits(t, H);
            model.VisibleProbabilities(w, h.Select(b => (float)b).ToArray(), 1, dest);
            var logZh = LogSumExp(Enumerable.Range(0, 16).Select(s => -Energy(w, Bits(s, V), h)));
            for (var i = 0; i < V; i++)
            {
                var on = Enumerable.Range(0, 16).Where(s => Bits(s, V)[i] == 1).Sum(s => Math.Exp(-Energy(w, Bits(s, V), h) - logZh));
                Assert.Equal(on, dest[i], 5);
            }
        }
    }

    /// <summary>CD-k for one row in plain scalar code, drawing from the documented stream in the documented order.</summary>
    private static double HandCd(float[] p, float[] v0, int id, long step, int seed, int k, bool sampleVisible, double[] grad)
    {
        var rng = SeededRandom.For(seed, ~step, id);
        double Pre(int j, IReadOnlyList<double> v) => p[V * H + V + j] + Enumerable.Range(0, V).Sum(i => v[i] * p[i * H + j]);
        double PreV(int i, IReadOnlyList<double> h) => p[V * H + i] + Enumerable.Range(0, H).Sum(j => p[i * H + j] * h[j]);
        var data = v0.Select(x => (double)x).ToArray();
        var hp0 = Enumerable.Range(0, H).Select(j => Sigmoid(Pre(j, data))).ToArray();
        var hs = hp0.Select(q => rng.NextFloat() < q ? 1.0 : 0.0).ToArray();
        var vp = Enumerable.Range(0, V).Select(i => Sigmoid(PreV(i, hs))).ToArray();
        var loss = Enumerable.Range(0, V).Sum(i => (data[i] - vp[i]) * (data[i] - vp[i])) / V;
        double[] vn = [], hpn = [];
        for (var t = 1; t <= k; t++)
        {
            if (t > 1)
            {
                vp = Enumerable.Range(0, V).Select(i => Sigmoid(PreV(i, hs))).ToArray();
            }
            vn = sampleVisible ? vp.Select(q => rng.NextFloat() < q ? 1.0 : 0.0).ToArray() : vp;
            hpn = Enumerable.Range(0, H).Select(j => Sigmoid(Pre(j, vn))).ToArray();
            if (t < k)
            {
                hs = hpn.Select(q => rng.NextFloat() < q ? 1.0 : 0.0).ToArray();
            }
        }
        for (var i = 0; i < V; i++)
        {
            for (var j = 0; j < H; j++)
            {
                grad[i * H + j] -= data[i] * hp0[j] - vn[i] * hpn[j];
            }
            grad[V * H + i] -= data[i] - vn[i];
        }
        for (var j = 0; j < H; j++)
        {
            grad[V * H + V + j] -= hp0[j] - hpn[j];
        }
        return loss;
    }

    [Theory]
    [InlineData(1, true)]
    [InlineData(1, false)]
    [InlineData(3, true)]
    public void Rbm_cd_gradient_should_equal_hand_computation_for_fixed_seed(int k, bool sampleVisible)
    {
        const int seed = 5;
        const long step = 7;
        var (model, w) = Tiny(new RbmOptions(CdSteps: k, SampleVisible: sampleVisible, Seed: seed));
        float[] data = [1, 0, 0.25f, 1, 0, 1, 1, 0, 0.5f, 0.5f, 0.75f, 0];
        int[] ids = [5, 17, 2];
        var gradient = Enumerable.Repeat(1f, model.ParameterCount).ToArray();   // the model adds, never overwrites
        var loss = model.AccumulateGradient(w, new Batch(data, new float[3], ids, step), gradient, model.CreateWorkspace(3));

        var expected = Enumerable.Repeat(1.0, model.ParameterCount).ToArray();
        var expectedLoss = 0.0;
        for (var r = 0; r < 3; r++)
        {
            expectedLoss += HandCd(w, data[(r * V)..((r + 1) * V)], ids[r], step, seed, k, sampleVisible, expected);
        }
        Assert.Equal(expectedLoss, loss, 1e-5);
        for (var i = 0; i < expected.Length; i++)
        {
            Assert.Equal(expected[i], gradient[i], 1e-5);
        }
    }

    private static (Rbm Model, float[] Weights, float[] Data, int[] Ids) Medium(RbmOptions options)
    {
        var model = new Rbm(Rbm.CreateSpec(13, 7), options);
        var weights = new float[model.ParameterCount];
        model.Initialize(weights, 3);
        var rng = SeededRandom.For(8, 1);
        for (var i = 0; i < weights.Length; i++)
        {
            weights[i] += 0.3f * rng.NextGaussian();
        }
        var data = Enumerable.Range(0, 9 * 13).Select(_ => rng.NextFloat()).ToArray();
        int[] ids = [4, 40, 0, 12, 33, 7, 21, 8, 30];
        return (model, weights, data, ids);
    }

    [Fact]
    public void Rbm_compute_gradient_should_overwrite_the_buffer_with_the_floats_of_accumulating_into_zeros()
    {
        var (rbm, w, data, ids) = Medium(new RbmOptions(CdSteps: 2, Seed: 9));
        IModel model = rbm; // the interface's own ComputeGradient: clear, then accumulate
        var targets = new float[9];
        var expected = new float[model.ParameterCount];
        var expectedLoss = model.AccumulateGradient(w, new Batch(data, targets, ids, 3), expected, model.CreateWorkspace(9));

        var overwritten = Enumerable.Repeat(float.NaN, model.ParameterCount).ToArray();
        var loss = model.ComputeGradient(w, new Batch(data, targets, ids, 3), overwritten, model.CreateWorkspace(9));

        Assert.Equal(expectedLoss, loss);
        Assert.Equal(expected, overwritten);
    }

    [Fact]
    public void Rbm_gradient_of_a_batch_should_equal_sum_of_gradients_of_its_parts()
    {
        var (model, w, data, ids) = Medium(new RbmOptions(CdSteps: 2, Seed: 9));
        var targets = new float[9];
        var whole = new float[model.ParameterCount];
        var wholeLoss = model.AccumulateGradient(w, new Batch(data, targets, ids, 3), whole, model.CreateWorkspace(9));

        var parts = new float[model.ParameterCount];
        double partsLoss = 0;
        foreach (var (start, count) in new[] { (0, 2), (2, 4), (6, 3) })
        {
            var part = new float[model.ParameterCount];
            partsLoss += model.AccumulateGradient(w, new Batch(data.AsSpan(start * 13, count * 13), targets.AsSpan(0, count), ids.AsSpan(start, count), 3),
                part, model.CreateWorkspace(4));
            System.Numerics.Tensors.TensorPrimitives.Add(parts, part, parts);
        }
        Assert.Equal(wholeLoss, partsLoss, 1e-6);
        for (var i = 0; i < whole.Length; i++)
        {
            Assert.Equal(whole[i], parts[i], 1e-5f);
        }
    }

    [Fact]
    public void Rbm_persistent_cd_with_a_chain_per_sample_should_match_across_split_batches_over_several_steps()
    {
        var (model, w, data, ids) = Medium(new RbmOptions(PersistentChains: 64, Seed: 2));
        var targets = new float[9];
        var single = model.CreateWorkspace(9);
        var workerA = model.CreateWorkspace(9);
        var workerB = model.CreateWorkspace(9);
        var differs = false;
        for (long step = 0; step < 4; step++)
        {
            var whole = new float[model.ParameterCount];
            model.AccumulateGradient(w, new Batch(data, targets, ids, step), whole, single);
            var parts = new float[model.ParameterCount];
            model.AccumulateGradient(w, new Batch(data.AsSpan(0, 5 * 13), targets.AsSpan(0, 5), ids.AsSpan(0, 5), step), parts, workerA);
            model.AccumulateGradient(w, new Batch(data.AsSpan(5 * 13), targets.AsSpan(5), ids.AsSpan(5), step), parts, workerB);
            for (var i = 0; i < whole.Length; i++)
            {
                Assert.Equal(whole[i], parts[i], 1e-5f);
            }

            // The chains must actually persist: plain CD at the same step draws a different negative phase.
            var plain = new Rbm(model.Spec, new RbmOptions(Seed: 2));
            var cd = new float[model.ParameterCount];
            plain.AccumulateGradient(w, new Batch(data, targets, ids, step), cd, plain.CreateWorkspace(9));
            differs |= step > 0 && !cd.AsSpan().SequenceEqual(whole);
        }
        Assert.True(differs);
    }

    [Fact]
    public void Rbm_chains_exported_from_one_workspace_and_imported_into_another_should_continue_the_same_negative_phase()
    {
        var (model, w, data, ids) = Medium(new RbmOptions(PersistentChains: 64, Seed: 2));
        var targets = new float[9];
        var original = model.CreateWorkspace(9);
        model.AccumulateGradient(w, new Batch(data, targets, ids, 0), new float[model.ParameterCount], original);
        var (chains, started) = model.ExportChains(original);
        var restored = model.CreateWorkspace(9);
        model.ImportChains(restored, chains, started);

        var expected = new float[model.ParameterCount];
        model.AccumulateGradient(w, new Batch(data, targets, ids, 1), expected, original);
        var actual = new float[model.ParameterCount];
        model.AccumulateGradient(w, new Batch(data, targets, ids, 1), actual, restored);
        var fresh = new float[model.ParameterCount];
        model.AccumulateGradient(w, new Batch(data, targets, ids, 1), fresh, model.CreateWorkspace(9));

        Assert.True(expected.AsSpan().SequenceEqual(actual));
        Assert.False(expected.AsSpan().SequenceEqual(fresh)); // without the chains the negative phase restarts from the data
        Assert.Throws<ArgumentException>(() => model.ImportChains(restored, chains[1..], started));
    }

    [Fact]
    public void Rbm_accumulate_gradient_should_not_allocate_after_warm_up()
    {
        foreach (var options in new[] { new RbmOptions(), new RbmOptions(CdSteps: 2, PersistentChains: 50) })
        {
            var (model, w, data, ids) = Medium(options);
            var ws = model.CreateWorkspace(9);
            var gradient = new float[model.ParameterCount];
            var targets = new float[9];
            model.AccumulateGradient(w, new Batch(data, targets, ids, 0), gradient, ws);
            var before = GC.GetAllocatedBytesForCurrentThread();
            for (var step = 1; step < 20; step++)
            {
                model.AccumulateGradient(w, new Batch(data, targets, ids, step), gradient, ws);
            }
            Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
        }
    }

    [Fact]
    public void Rbm_pseudo_log_likelihood_should_equal_features_times_log_sigmoid_of_free_energy_gap()
    {
        var (model, w, data, _) = Medium(new RbmOptions());
        var ws = model.CreateWorkspace(4);   // smaller than the data: exercises chunking
        var values = new double[9];
        model.PseudoLogLikelihoods(w, data, 9, 123, values, ws);
        for (var r = 0; r < 9; r++)
        {
            var row = data.AsSpan(r * 13, 13).ToArray();
            var j = SeededRandom.For(123, 4, r).NextInt(13);
            var flipped = (float[])row.Clone();
            flipped[j] = 1f - flipped[j];
            var gap = model.FreeEnergy(w, flipped) - model.FreeEnergy(w, row);
            Assert.Equal(13 * Math.Log(Sigmoid(gap)), values[r], 4);
        }
        Assert.Equal(values.Average(), model.PseudoLogLikelihood(w, data, 9, 123, ws), 9);
    }

    [Fact]
    public void Rbm_reconstruction_error_should_match_scalar_mean_field()
    {
        var (model, w, data, _) = Medium(new RbmOptions());
        double sum = 0;
        var hp = new float[7];
        var vp = new float[13];
        for (var r = 0; r < 9; r++)
        {
            var row = data.AsSpan(r * 13, 13);
            GemmReference.MultiplyNN(1, 7, 13, row, model.Weights((ReadOnlySpan<float>)w), hp, false);
            for (var j = 0; j < 7; j++)
            {
                hp[j] = (float)Sigmoid(hp[j] + model.HiddenBias((ReadOnlySpan<float>)w)[j]);
            }
            GemmReference.MultiplyNT(1, 13, 7, hp, model.Weights((ReadOnlySpan<float>)w), vp, false);
            for (var i = 0; i < 13; i++)
            {
                var d = row[i] - Sigmoid(vp[i] + model.VisibleBias((ReadOnlySpan<float>)w)[i]);
                sum += d * d;
            }
        }
        Assert.Equal(sum / (9 * 13), model.ReconstructionError(w, data, 9, model.CreateWorkspace(2)), 5);
    }

    [Fact]
    public void Rbm_initialize_should_draw_small_weights_and_zero_biases()
    {
        var model = new Rbm(Rbm.CreateSpec(64, 100));
        var w = new float[model.ParameterCount];
        model.Initialize(w, 1);
        var weights = model.Weights((ReadOnlySpan<float>)w).ToArray();
        var std = Math.Sqrt(weights.Average(x => (double)x * x));
        Assert.InRange(std, 0.009, 0.011);
        Assert.All(w[(64 * 100)..], b => Assert.Equal(0f, b));
    }

    [Fact]
    public void Rbm_should_reject_a_workspace_of_another_model_and_oversized_batches()
    {
        var (model, w) = Tiny();
        var other = new Rbm(Rbm.CreateSpec(V, H));
        var gradient = new float[model.ParameterCount];
        var data = new float[2 * V];
        Assert.Throws<ArgumentException>(() => model.AccumulateGradient(w, new Batch(data, new float[2], new int[2], 0), gradient, other.CreateWorkspace(2)));
        Assert.Throws<ArgumentException>(() => model.AccumulateGradient(w, new Batch(data, new float[2], new int[2], 0), gradient, model.CreateWorkspace(1)));
        Assert.Throws<ArgumentException>(() => new Rbm(Rbm.CreateSpec(V, H), new RbmOptions(CdSteps: 0)));
    }

    [Fact]
    public void SampleBernoulli_should_match_reference_for_all_tail_lengths()
    {
        var rng = SeededRandom.For(1, 2);
        for (var n = 0; n <= 3 * 8 + 1; n++)
        {
            var p = Enumerable.Range(0, n).Select(_ => rng.NextFloat()).ToArray();
            var u = Enumerable.Range(0, n).Select(i => i % 5 == 0 ? p[i] : rng.NextFloat()).ToArray();   // ties included
            var actual = new float[n];
            var expected = new float[n];
            RbmKernels.SampleBernoulli(p, u, actual);
            RbmKernels.SampleBernoulliReference(p, u, expected);
            Assert.Equal(expected, actual);
        }
    }

    [Theory]
    [InlineData(0.0)]
    [InlineData(1e-12)]
    [InlineData(-40.0)]
    [InlineData(40.0)]
    [InlineData(800.0)]
    [InlineData(-800.0)]
    public void Softplus_should_be_finite_and_accurate_for_extreme_arguments(double x)
    {
        var expected = x > 30 ? x + Math.Exp(-x) : x < -30 ? Math.Exp(x) : Math.Log(1 + Math.Exp(x));
        Assert.Equal(expected, RbmKernels.Softplus(x), 12);
        Assert.True(double.IsFinite(RbmKernels.LogSigmoid(x)));
        Assert.Equal(1.0, RbmKernels.Log1P(1e-20) / 1e-20, 12);
    }
}
