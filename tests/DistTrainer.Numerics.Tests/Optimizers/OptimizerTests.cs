using DistTrainer.Numerics.Optimizers;

namespace DistTrainer.Numerics.Tests.Optimizers;

/// <summary>
/// Each optimizer against a double-precision hand computation of its update rule over several steps, for lengths that
/// run only the scalar tail (1, 7) and the vector loop plus a tail (17, 33, 257). The updates are a handful of float
/// operations per step on values of order one, so float and double agree to about 1e-6; the tolerance is 1e-5.
/// </summary>
public class OptimizerTests
{
    private const int Steps = 5;
    private const float LearningRate = 0.05f;
    private const float Momentum = 0.9f;

    public static TheoryData<OptimizerKind, float, int> Cases()
    {
        var cases = new TheoryData<OptimizerKind, float, int>();
        foreach (var kind in new[] { OptimizerKind.Sgd, OptimizerKind.Momentum, OptimizerKind.Nesterov, OptimizerKind.Adam })
        {
            foreach (var weightDecay in new[] { 0f, 0.1f })
            {
                foreach (var length in new[] { 1, 7, 17, 33, 257 })
                {
                    cases.Add(kind, weightDecay, length);
                }
            }
        }
        return cases;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void Optimizer_steps_should_match_a_hand_computation(OptimizerKind kind, float weightDecay, int length)
    {
        var options = new OptimizerOptions(kind, LearningRate, Momentum, weightDecay);
        var optimizer = options.Create(length);
        var weights = Start(length);
        var expected = weights.Select(x => (double)x).ToArray();
        var reference = new ReferenceOptimizer(options, length);

        for (var step = 0; step < Steps; step++)
        {
            var gradients = Gradients(length, step);
            optimizer.Step(weights, gradients);
            reference.Step(expected, gradients);
            for (var i = 0; i < length; i++)
            {
                Assert.True(Math.Abs(weights[i] - expected[i]) <= 1e-5 * (1 + Math.Abs(expected[i])),
                    $"{kind} λ={weightDecay} n={length} step {step + 1} [{i}]: {weights[i]} vs {expected[i]}");
            }
        }
    }

    [Theory]
    [InlineData(OptimizerKind.Sgd)]
    [InlineData(OptimizerKind.Momentum)]
    [InlineData(OptimizerKind.Nesterov)]
    [InlineData(OptimizerKind.Adam)]
    public void Optimizer_should_update_an_element_the_same_in_the_vector_loop_and_the_scalar_tail(OptimizerKind kind)
    {
        const int length = 257;
        var options = new OptimizerOptions(kind, LearningRate, Momentum, WeightDecay: 0.01f);
        var whole = options.Create(length);
        var weights = Start(length);
        var singles = Enumerable.Range(0, length).Select(_ => options.Create(1)).ToArray();
        var single = weights.Select(w => new[] { w }).ToArray();

        for (var step = 0; step < Steps; step++)
        {
            var gradients = Gradients(length, step);
            whole.Step(weights, gradients);
            for (var i = 0; i < length; i++)
            {
                singles[i].Step(single[i], gradients.AsSpan(i, 1));
            }
        }

        for (var i = 0; i < length; i++)
        {
            Assert.Equal(single[i][0], weights[i], 1e-6f);
        }
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void Fused_step_should_give_exactly_the_weights_of_separate_add_scale_and_step_passes(OptimizerKind kind, float weightDecay, int length)
    {
        var options = new OptimizerOptions(kind, LearningRate, Momentum, weightDecay);
        var separate = options.Create(length);
        var fused = options.Create(length);
        var expected = Start(length);
        var weights = (float[])expected.Clone();
        var next = new float[length];
        var copy = new float[length];
        const float scale = 1f / 3;

        for (var step = 0; step < Steps; step++)
        {
            var first = Gradients(length, step);
            var second = Gradients(length, step + 100);
            var sum = (float[])first.Clone();
            for (var i = 0; i < length; i++)
            {
                sum[i] = (sum[i] + second[i]) * scale;
            }
            separate.Step(expected, sum);
            // Alternate the two forms the parameter server uses: one part read in place, and a sum plus the last part.
            if (step % 2 == 0)
            {
                Assert.True(fused.TryStep(weights, first, second, scale, next, copy));
            }
            else
            {
                var partial = (float[])first.Clone();
                for (var i = 0; i < length; i++)
                {
                    partial[i] += second[i];
                }
                Assert.True(fused.TryStep(weights, partial, [], scale, next, copy));
            }
            (weights, next) = (next, weights);

            Assert.Equal(expected, weights);
            Assert.Equal(weights, copy);
        }
    }

    [Fact]
    public void Fused_step_should_reject_new_weights_or_a_copy_of_a_different_length()
    {
        var optimizer = new OptimizerOptions(OptimizerKind.Sgd).Create(5);
        Assert.Throws<ArgumentException>(() => optimizer.TryStep(new float[5], new float[5], [], 1f, new float[5], new float[4]));
        Assert.Throws<ArgumentException>(() => optimizer.TryStep(new float[5], new float[5], [], 1f, new float[4], []));
    }

    public static TheoryData<OptimizerKind, int, int, float> NonFiniteCases()
    {
        var cases = new TheoryData<OptimizerKind, int, int, float>();
        foreach (var kind in new[] { OptimizerKind.Sgd, OptimizerKind.Momentum, OptimizerKind.Nesterov, OptimizerKind.Adam })
        {
            // A bad value in the vector loop and in the scalar tail of 257 values, and alone in a 7-value tail.
            foreach (var (length, at) in new[] { (257, 40), (257, 256), (7, 3) })
            {
                cases.Add(kind, length, at, float.NaN);
                cases.Add(kind, length, at, float.PositiveInfinity);
                cases.Add(kind, length, at, float.NegativeInfinity);
            }
        }
        return cases;
    }

    [Theory]
    [MemberData(nameof(NonFiniteCases))]
    public void Fused_step_should_refuse_a_gradient_holding_NaN_or_infinity_and_keep_its_state(OptimizerKind kind, int length, int at, float bad)
    {
        var options = new OptimizerOptions(kind, LearningRate, Momentum);
        var refused = options.Create(length);
        var untouched = options.Create(length);
        var weights = Start(length);
        var next = new float[length];
        var copy = new float[length];
        var warm = Gradients(length, 0);
        Assert.True(refused.TryStep(weights, warm, [], 1f, next, copy));
        Assert.True(untouched.TryStep(weights, warm, [], 1f, new float[length], []));
        var before = (float[])next.Clone();

        var gradient = Gradients(length, 1);
        gradient[at] = bad;
        Assert.False(refused.TryStep(before, gradient, [], 1f, next, copy));

        // The refused step left no trace: the optimizer's state (momentum, Adam's moments and step count) is as if it
        // never happened, so the next good step matches an optimizer that never saw it.
        var good = Gradients(length, 2);
        var a = new float[length];
        var b = new float[length];
        Assert.True(refused.TryStep(before, good, [], 1f, a, []));
        Assert.True(untouched.TryStep(before, good, [], 1f, b, []));
        Assert.Equal(b, a);
        Assert.Equal(refused.ExportState(), untouched.ExportState());
    }

    [Fact]
    public void Fused_step_should_refuse_an_update_that_overflows_from_finite_values()
    {
        var sgd = new OptimizerOptions(OptimizerKind.Sgd, 1f).Create(1);
        Assert.False(sgd.TryStep([3e38f], [-3e38f], [], 1f, new float[1], []));

        // Adam's new weight stays finite here (m / √v with v = ∞ is 0), but its second moment would not: refused too.
        var adam = new OptimizerOptions(OptimizerKind.Adam, LearningRate).Create(1);
        Assert.False(adam.TryStep([0f], [1e30f], [], 1f, new float[1], []));
        Assert.Equal([0f, 0f, 0f], adam.ExportState()); // t, m, v unchanged
    }

    [Fact]
    public void Nesterov_should_differ_from_classical_momentum_after_the_first_step()
    {
        var classical = new OptimizerOptions(OptimizerKind.Momentum, LearningRate, Momentum).Create(1);
        var nesterov = new OptimizerOptions(OptimizerKind.Nesterov, LearningRate, Momentum).Create(1);
        float[] a = [1f], b = [1f];

        classical.Step(a, [1f]);
        nesterov.Step(b, [1f]);

        // Classical: b = g = 1, w = 1 − 0.05. Nesterov: w = 1 − 0.05·(g + μb) = 1 − 0.05·1.9.
        Assert.Equal(0.95f, a[0], 1e-7f);
        Assert.Equal(1f - 0.05f * 1.9f, b[0], 1e-7f);
    }

    [Fact]
    public void Adam_first_step_should_move_each_weight_by_the_learning_rate_thanks_to_bias_correction()
    {
        var adam = new OptimizerOptions(OptimizerKind.Adam, LearningRate).Create(4);
        float[] weights = [0f, 0f, 1f, -1f];

        adam.Step(weights, [3f, -0.01f, 1e-3f, -200f]);

        // m̂ = g and v̂ = g², so the step is η·g/(|g| + ε) = ±η for every |g| ≫ ε.
        Assert.Equal([-LearningRate, LearningRate, 1f - LearningRate, -1f + LearningRate], weights, (x, y) => Math.Abs(x - y) < 1e-6f);
    }

    [Theory]
    [InlineData(OptimizerKind.Sgd)]
    [InlineData(OptimizerKind.Momentum)]
    [InlineData(OptimizerKind.Nesterov)]
    [InlineData(OptimizerKind.Adam)]
    public void Optimizer_state_export_and_import_should_continue_identically(OptimizerKind kind)
    {
        const int length = 33;
        var options = new OptimizerOptions(kind, LearningRate, Momentum, WeightDecay: 0.01f);
        var original = options.Create(length);
        var weights = Start(length);
        for (var step = 0; step < 3; step++)
        {
            original.Step(weights, Gradients(length, step));
        }

        var restored = options.Create(length);
        restored.ImportState(original.ExportState());
        var restoredWeights = (float[])weights.Clone();
        for (var step = 3; step < 3 + Steps; step++)
        {
            original.Step(weights, Gradients(length, step));
            restored.Step(restoredWeights, Gradients(length, step));
        }

        Assert.Equal(weights, restoredWeights);
        Assert.Equal(original.ExportState(), restored.ExportState());
    }

    [Theory]
    [InlineData(OptimizerKind.Momentum)]
    [InlineData(OptimizerKind.Adam)]
    public void Optimizer_state_import_should_continue_differently_from_a_fresh_start(OptimizerKind kind)
    {
        const int length = 7;
        var options = new OptimizerOptions(kind, LearningRate, Momentum);
        var trained = options.Create(length);
        var weights = Start(length);
        trained.Step(weights, Gradients(length, 0));
        trained.Step(weights, Gradients(length, 1));
        var restored = options.Create(length);
        restored.ImportState(trained.ExportState());
        var fresh = options.Create(length);
        var a = (float[])weights.Clone();
        var b = (float[])weights.Clone();

        restored.Step(a, Gradients(length, 2));
        fresh.Step(b, Gradients(length, 2));

        Assert.NotEqual(a, b);
    }

    [Theory]
    [InlineData(OptimizerKind.Sgd, 1)]
    [InlineData(OptimizerKind.Momentum, 6)]
    [InlineData(OptimizerKind.Adam, 6)]
    public void Optimizer_should_reject_state_of_the_wrong_length(OptimizerKind kind, int wrongLength)
    {
        var optimizer = new OptimizerOptions(kind).Create(5);
        Assert.Throws<ArgumentException>(() => optimizer.ImportState(new float[wrongLength]));
    }

    [Fact]
    public void Optimizer_should_reject_gradients_of_a_different_length()
    {
        var optimizer = new OptimizerOptions(OptimizerKind.Adam).Create(5);
        Assert.Throws<ArgumentException>(() => optimizer.Step(new float[5], new float[4]));
    }

    private static float[] Start(int length)
    {
        var rng = SeededRandom.For(length, 11);
        return Enumerable.Range(0, length).Select(_ => 2 * rng.NextFloat() - 1).ToArray();
    }

    private static float[] Gradients(int length, int step)
    {
        var rng = SeededRandom.For(length, 12, step);
        return Enumerable.Range(0, length).Select(_ => 4 * rng.NextFloat() - 2).ToArray();
    }

    /// <summary>The textbook update rules in double, one element at a time.</summary>
    private sealed class ReferenceOptimizer(OptimizerOptions o, int length)
    {
        private readonly double[] _first = new double[length];
        private readonly double[] _second = new double[length];
        private int _t;

        public void Step(double[] w, float[] gradients)
        {
            _t++;
            for (var i = 0; i < w.Length; i++)
            {
                var g = gradients[i] + (double)o.WeightDecay * w[i];
                switch (o.Kind)
                {
                    case OptimizerKind.Sgd:
                        w[i] -= o.LearningRate * g;
                        break;
                    case OptimizerKind.Momentum:
                        _first[i] = o.Momentum * _first[i] + g;
                        w[i] -= o.LearningRate * _first[i];
                        break;
                    case OptimizerKind.Nesterov:
                        _first[i] = o.Momentum * _first[i] + g;
                        w[i] -= o.LearningRate * (g + o.Momentum * _first[i]);
                        break;
                    default:
                        _first[i] = o.Beta1 * _first[i] + (1 - (double)o.Beta1) * g;
                        _second[i] = o.Beta2 * _second[i] + (1 - (double)o.Beta2) * g * g;
                        var mHat = _first[i] / (1 - Math.Pow(o.Beta1, _t));
                        var vHat = _second[i] / (1 - Math.Pow(o.Beta2, _t));
                        w[i] -= o.LearningRate * mHat / (Math.Sqrt(vHat) + o.Epsilon);
                        break;
                }
            }
        }
    }
}
