using DistTrainer.Numerics.Data;
using DistTrainer.Numerics.Models;

namespace DistTrainer.Numerics.Tests.Models;

/// <summary>
/// The MLP's analytic gradient against central finite differences of an independent double-precision forward pass.
/// </summary>
/// <remarks>
/// The oracle evaluates the summed loss in double at the model's float weights, so the finite difference with
/// h = 1e-5 carries a truncation error of order h²·|f'''| ≈ 1e-10 and a rounding error of order 1e-16/h ≈ 1e-11:
/// it is exact to far below the tolerance. What remains is the float32 rounding of the analytic gradient
/// (a few ulps of the summed terms, about 1e-6 relative for these sizes), so |analytic − fd| ≤ 1e-4 + 1e-3·|fd|
/// leaves two orders of margin while still catching any wrong term (a missing factor or transposed index is O(1)).
/// </remarks>
public class MlpGradientTests
{
    private const double Step = 1e-5;
    private const int Inputs = 5;
    private const int Rows = 4;
    private const int Classes = 3;

    public static TheoryData<Activation, TaskKind, int> Cases()
    {
        var cases = new TheoryData<Activation, TaskKind, int>();
        foreach (var activation in new[] { Activation.Relu, Activation.Tanh, Activation.Sigmoid })
        {
            foreach (var task in new[] { TaskKind.Classification, TaskKind.Regression })
            {
                for (var depth = 0; depth <= 2; depth++)
                {
                    cases.Add(activation, task, depth);
                }
            }
        }
        return cases;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void Mlp_gradient_should_match_central_differences_in_double(Activation activation, TaskKind task, int hiddenLayers)
    {
        int[] hidden = hiddenLayers switch { 0 => [], 1 => [6], _ => [7, 4] };
        var outputs = task == TaskKind.Classification ? Classes : 1;
        var mlp = new Mlp(Mlp.CreateSpec(Inputs, hidden, outputs, activation, task));
        var (weights, features, targets) = FindProblemAwayFromReluKinks(mlp);

        var gradient = new float[mlp.ParameterCount];
        var batch = new Batch(features, targets, Enumerable.Range(0, Rows).ToArray(), 0);
        var loss = mlp.AccumulateGradient(weights, batch, gradient, mlp.CreateWorkspace(Rows));

        var oracle = new DoubleMlp(mlp);
        var w = weights.Select(x => (double)x).ToArray();
        var oracleLoss = oracle.Loss(w, features, targets, out _);
        Assert.True(Math.Abs(loss - oracleLoss) <= 1e-5 * (1 + Math.Abs(oracleLoss)), $"loss {loss} vs double {oracleLoss}");

        for (var p = 0; p < w.Length; p++)
        {
            var saved = w[p];
            w[p] = saved + Step;
            var plus = oracle.Loss(w, features, targets, out _);
            w[p] = saved - Step;
            var minus = oracle.Loss(w, features, targets, out _);
            w[p] = saved;
            var fd = (plus - minus) / (2 * Step);
            Assert.True(Math.Abs(gradient[p] - fd) <= 1e-4 + 1e-3 * Math.Abs(fd),
                $"{mlp.Spec} parameter {p}: analytic {gradient[p]} vs finite difference {fd}");
        }
    }

    [Fact]
    public void Mlp_gradient_should_add_to_the_buffer_it_is_given()
    {
        var mlp = new Mlp(Mlp.CreateSpec(Inputs, [6], Classes, Activation.Tanh, TaskKind.Classification));
        var (weights, features, targets) = FindProblemAwayFromReluKinks(mlp);
        var batch = new Batch(features, targets, Enumerable.Range(0, Rows).ToArray(), 0);
        var workspace = mlp.CreateWorkspace(Rows);

        var fresh = new float[mlp.ParameterCount];
        mlp.AccumulateGradient(weights, batch, fresh, workspace);
        var accumulated = Enumerable.Range(0, mlp.ParameterCount).Select(i => 0.5f * i).ToArray();
        mlp.AccumulateGradient(weights, batch, accumulated, workspace);

        for (var i = 0; i < fresh.Length; i++)
        {
            Assert.Equal(0.5f * i + fresh[i], accumulated[i], 1e-5f);
        }
    }

    [Theory]
    [InlineData(4, TaskKind.Classification)]
    [InlineData(300, TaskKind.Classification)] // products over more rows than one block of the kernels
    [InlineData(37, TaskKind.Regression)]
    public void Mlp_compute_gradient_should_overwrite_the_buffer_with_the_floats_of_accumulating_into_zeros(int rows, TaskKind task)
    {
        var mlp = new Mlp(Mlp.CreateSpec(40, [33, 17], task == TaskKind.Classification ? Classes : 1, Activation.Relu, task));
        var weights = new float[mlp.ParameterCount];
        mlp.Initialize(weights, seed: 5);
        var rng = new Random(rows);
        var features = Enumerable.Range(0, rows * 40).Select(_ => (float)rng.NextDouble()).ToArray();
        var targets = Enumerable.Range(0, rows).Select(_ => task == TaskKind.Classification ? rng.Next(Classes) : (float)rng.NextDouble()).ToArray();
        var batch = new Batch(features, targets, new int[rows], 0);
        var workspace = mlp.CreateWorkspace(rows);

        var expected = new float[mlp.ParameterCount];
        var expectedLoss = mlp.AccumulateGradient(weights, batch, expected, workspace);
        var overwritten = Enumerable.Repeat(float.NaN, mlp.ParameterCount).ToArray();
        var loss = mlp.ComputeGradient(weights, batch, overwritten, workspace);

        Assert.Equal(expectedLoss, loss);
        Assert.Equal(expected, overwritten);
    }

    [Fact]
    public void Mlp_compute_gradient_of_no_rows_should_leave_zeros()
    {
        var mlp = new Mlp(Mlp.CreateSpec(Inputs, [6], Classes, Activation.Relu, TaskKind.Classification));
        var weights = new float[mlp.ParameterCount];
        mlp.Initialize(weights, seed: 3);
        var gradient = Enumerable.Repeat(float.NaN, mlp.ParameterCount).ToArray();

        var loss = mlp.ComputeGradient(weights, new Batch([], [], [], 0), gradient, mlp.CreateWorkspace(Rows));

        Assert.Equal(0, loss);
        Assert.All(gradient, g => Assert.Equal(0f, g));
    }

    [Fact]
    public void Mlp_gradient_of_a_batch_should_equal_the_sum_of_its_rows_gradients()
    {
        var mlp = new Mlp(Mlp.CreateSpec(Inputs, [7, 4], Classes, Activation.Sigmoid, TaskKind.Classification));
        var (weights, features, targets) = FindProblemAwayFromReluKinks(mlp);
        var workspace = mlp.CreateWorkspace(Rows);

        var whole = new float[mlp.ParameterCount];
        var wholeLoss = mlp.AccumulateGradient(weights, new Batch(features, targets, new int[Rows], 0), whole, workspace);
        var byRow = new float[mlp.ParameterCount];
        double rowLoss = 0;
        for (var r = 0; r < Rows; r++)
        {
            var batch = new Batch(features.AsSpan(r * Inputs, Inputs), targets.AsSpan(r, 1), new int[1], 0);
            rowLoss += mlp.AccumulateGradient(weights, batch, byRow, workspace);
        }

        Assert.Equal(rowLoss, wholeLoss, 1e-5);
        for (var i = 0; i < whole.Length; i++)
        {
            Assert.Equal(byRow[i], whole[i], 1e-5f);
        }
    }

    [Fact]
    public void Mlp_predict_should_return_softmax_probabilities_of_the_double_forward_pass()
    {
        var mlp = new Mlp(Mlp.CreateSpec(Inputs, [6], Classes, Activation.Relu, TaskKind.Classification));
        var (weights, features, targets) = FindProblemAwayFromReluKinks(mlp);

        var probabilities = mlp.Predict(weights, features, Rows, mlp.CreateWorkspace(Rows)).ToArray();

        new DoubleMlp(mlp).Loss(weights.Select(x => (double)x).ToArray(), features, targets, out var logits);
        for (var r = 0; r < Rows; r++)
        {
            var z = logits.AsSpan(r * Classes, Classes);
            var max = z.ToArray().Max();
            var sum = z.ToArray().Sum(v => Math.Exp(v - max));
            for (var c = 0; c < Classes; c++)
            {
                Assert.Equal(Math.Exp(z[c] - max) / sum, probabilities[r * Classes + c], 1e-5);
            }
        }
    }

    /// <summary>
    /// Seeded weights, inputs and targets. For ReLU, seeds whose pre-activations come within 1e-2 of zero are skipped:
    /// a step of h = 1e-5 on any weight moves a pre-activation by far less than that, so no finite difference straddles
    /// the kink and float and double agree on every unit's side of it.
    /// </summary>
    private static (float[] Weights, float[] Features, float[] Targets) FindProblemAwayFromReluKinks(Mlp mlp)
    {
        var oracle = new DoubleMlp(mlp);
        for (var seed = 1; seed < 200; seed++)
        {
            var weights = new float[mlp.ParameterCount];
            mlp.Initialize(weights, seed);
            var rng = SeededRandom.For(seed, 77);
            // Non-zero biases so their gradient paths are exercised with realistic values.
            for (var i = 0; i < weights.Length; i++)
            {
                weights[i] += 0.1f * (2 * rng.NextFloat() - 1);
            }
            var features = new float[Rows * Inputs];
            for (var i = 0; i < features.Length; i++)
            {
                features[i] = 2 * rng.NextFloat() - 1;
            }
            var targets = new float[Rows];
            for (var r = 0; r < Rows; r++)
            {
                targets[r] = mlp.Spec.Task == TaskKind.Classification ? r % Classes : 2 * rng.NextFloat() - 1;
            }
            oracle.Loss(weights.Select(x => (double)x).ToArray(), features, targets, out _);
            if (mlp.Spec.Activation != Activation.Relu || oracle.SmallestHiddenPreActivation > 1e-2)
            {
                return (weights, features, targets);
            }
        }
        throw new InvalidOperationException("no seed keeps the ReLU pre-activations away from zero");
    }

    /// <summary>A plain double-precision forward pass over the same flat layout, summing the loss over rows.</summary>
    private sealed class DoubleMlp(Mlp mlp)
    {
        public double SmallestHiddenPreActivation { get; private set; }

        public double Loss(double[] w, float[] features, float[] targets, out double[] lastOutputs)
        {
            var spec = mlp.Spec;
            var rows = targets.Length;
            var input = features.Select(x => (double)x).ToArray();
            SmallestHiddenPreActivation = double.PositiveInfinity;
            for (var l = 0; l < mlp.Layers.Count; l++)
            {
                var layer = mlp.Layers[l];
                var output = new double[rows * layer.Outputs];
                for (var r = 0; r < rows; r++)
                {
                    for (var j = 0; j < layer.Outputs; j++)
                    {
                        var z = w[layer.Offset + layer.Inputs * layer.Outputs + j];
                        for (var i = 0; i < layer.Inputs; i++)
                        {
                            z += input[r * layer.Inputs + i] * w[layer.Offset + i * layer.Outputs + j];
                        }
                        if (l < mlp.Layers.Count - 1)
                        {
                            SmallestHiddenPreActivation = Math.Min(SmallestHiddenPreActivation, Math.Abs(z));
                            z = spec.Activation switch
                            {
                                Activation.Relu => Math.Max(z, 0),
                                Activation.Tanh => Math.Tanh(z),
                                _ => 1 / (1 + Math.Exp(-z)),
                            };
                        }
                        output[r * layer.Outputs + j] = z;
                    }
                }
                input = output;
            }
            lastOutputs = input;

            double loss = 0;
            for (var r = 0; r < rows; r++)
            {
                if (spec.Task == TaskKind.Classification)
                {
                    var z = input.AsSpan(r * spec.Outputs, spec.Outputs);
                    var max = double.NegativeInfinity;
                    foreach (var v in z)
                    {
                        max = Math.Max(max, v);
                    }
                    double sum = 0;
                    foreach (var v in z)
                    {
                        sum += Math.Exp(v - max);
                    }
                    loss += max + Math.Log(sum) - z[(int)targets[r]];
                }
                else
                {
                    var e = input[r] - targets[r];
                    loss += e * e;
                }
            }
            return loss;
        }
    }
}
