using System.Numerics.Tensors;
using DistTrainer.Numerics.Data;
using DistTrainer.Numerics.Kernels;

namespace DistTrainer.Numerics.Models;

/// <summary>
/// A multilayer perceptron over one flat parameter buffer. Layer l owns W_l (in × out, row-major) followed by b_l (out),
/// so forward is Y = X·W + b (NN), the weight gradient is Xᵀ·dY (TN) and the input gradient dY·Wᵀ (NT).
/// Classification ends in softmax + cross-entropy, regression in mean squared error.
/// </summary>
public sealed class Mlp : IModel
{
    private readonly DenseLayer[] _layers;

    public Mlp(ModelSpec spec)
    {
        if (spec.Kind != ModelKind.Mlp)
        {
            throw new ArgumentException($"expected an MLP spec, got {spec.Kind}", nameof(spec));
        }
        if (spec.Task == TaskKind.Regression && spec.Outputs != 1)
        {
            throw new ArgumentException($"a regression MLP predicts one value, got {spec.Outputs} outputs", nameof(spec));
        }
        if (spec.Inputs <= 0 || spec.Outputs <= 0 || spec.Hidden.Any(h => h <= 0))
        {
            throw new ArgumentException($"every layer needs at least one unit: {spec}", nameof(spec));
        }
        Spec = spec;
        var sizes = new[] { spec.Inputs }.Concat(spec.Hidden).Append(spec.Outputs).ToArray();
        _layers = new DenseLayer[sizes.Length - 1];
        var offset = 0;
        for (var l = 0; l < _layers.Length; l++)
        {
            _layers[l] = new DenseLayer(sizes[l], sizes[l + 1], offset);
            offset += _layers[l].ParameterCount;
        }
        ParameterCount = offset;
    }

    public ModelSpec Spec { get; }

    public int ParameterCount { get; }

    public IReadOnlyList<DenseLayer> Layers => _layers;

    public static ModelSpec CreateSpec(int inputs, int[] hidden, int outputs, Activation activation, TaskKind task) =>
        new(ModelKind.Mlp, inputs, hidden, outputs, activation, task);

    /// <summary>He initialisation for ReLU layers, Xavier (Glorot uniform) otherwise; biases start at zero.</summary>
    public void Initialize(Span<float> weights, int seed)
    {
        if (weights.Length != ParameterCount)
        {
            throw new ArgumentException($"weights hold {weights.Length} values, the model has {ParameterCount}.", nameof(weights));
        }
        weights.Clear();
        for (var l = 0; l < _layers.Length; l++)
        {
            var layer = _layers[l];
            var rng = SeededRandom.For(seed, 1, l);
            var w = layer.Weights(weights);
            var isOutput = l == _layers.Length - 1;
            if (Spec.Activation == Activation.Relu && !isOutput)
            {
                var std = MathF.Sqrt(2f / layer.Inputs);
                for (var i = 0; i < w.Length; i++)
                {
                    w[i] = std * rng.NextGaussian();
                }
            }
            else
            {
                var limit = MathF.Sqrt(6f / (layer.Inputs + layer.Outputs));
                for (var i = 0; i < w.Length; i++)
                {
                    w[i] = (2f * rng.NextFloat() - 1f) * limit;
                }
            }
        }
    }

    public ModelWorkspace CreateWorkspace(int maxBatch, int threads = 1) => new MlpWorkspace(this, maxBatch, threads);

    /// <summary>
    /// Runs the network on <paramref name="count"/> rows and returns the outputs (count × Outputs): class probabilities
    /// for classification, predicted values for regression. The span points into the workspace.
    /// </summary>
    public ReadOnlySpan<float> Predict(ReadOnlySpan<float> weights, ReadOnlySpan<float> features, int count, ModelWorkspace workspace)
    {
        var ws = CheckWorkspace(workspace, count);
        Forward(weights, features, count, ws);
        var output = ws.Activations[^1].AsSpan(0, count * Spec.Outputs);
        if (Spec.Task == TaskKind.Classification)
        {
            for (var r = 0; r < count; r++)
            {
                var row = output.Slice(r * Spec.Outputs, Spec.Outputs);
                TensorPrimitives.SoftMax(row, row);
            }
        }
        return output;
    }

    public double AccumulateGradient(ReadOnlySpan<float> weights, in Batch batch, Span<float> gradientSum, ModelWorkspace workspace) =>
        Gradient(weights, batch, gradientSum, workspace, accumulate: true);

    /// <summary>Every parameter's gradient is written by one product or one bias sum: nothing is read or cleared first.</summary>
    public double ComputeGradient(ReadOnlySpan<float> weights, in Batch batch, Span<float> gradient, ModelWorkspace workspace) =>
        Gradient(weights, batch, gradient, workspace, accumulate: false);

    private double Gradient(ReadOnlySpan<float> weights, in Batch batch, Span<float> gradientSum, ModelWorkspace workspace, bool accumulate)
    {
        var count = batch.Count;
        var ws = CheckWorkspace(workspace, count);
        if (gradientSum.Length != ParameterCount)
        {
            throw new ArgumentException($"gradient holds {gradientSum.Length} values, the model has {ParameterCount}.", nameof(gradientSum));
        }
        if (count == 0 && !accumulate)
        {
            gradientSum.Clear(); // no row writes anything
            accumulate = true;
        }
        Forward(weights, batch.Features, count, ws);

        var outputs = Spec.Outputs;
        var delta = ws.DeltaA.AsSpan(0, count * outputs);
        var correct = 0;
        var loss = Spec.Task == TaskKind.Classification
            ? LossFunctions.SoftmaxCrossEntropy(ws.Activations[^1].AsSpan(0, count * outputs), batch.Targets, outputs, delta, out correct)
            : LossFunctions.SquaredError(ws.Activations[^1].AsSpan(0, count), batch.Targets, delta);
        ws.Correct = correct;

        var threads = ws.Threads;
        var current = ws.DeltaA;
        var next = ws.DeltaB;
        for (var l = _layers.Length - 1; l >= 0; l--)
        {
            var layer = _layers[l];
            var dZ = current.AsSpan(0, count * layer.Outputs);
            var input = l == 0 ? batch.Features[..(count * layer.Inputs)] : ws.Activations[l - 1].AsSpan(0, count * layer.Inputs);

            // Weight gradients end the step (the first layer's, the largest, last of all): a peer that finished first can help.
            Gemm.MultiplyTN(layer.Inputs, layer.Outputs, count, input, dZ, layer.Weights(gradientSum), accumulate, threads, ws.IdleThreadsMayHelp);
            var dBias = layer.Bias(gradientSum);
            var first = 0;
            if (!accumulate)
            {
                dZ[..layer.Outputs].CopyTo(dBias);
                first = 1;
            }
            for (var r = first; r < count; r++)
            {
                TensorPrimitives.Add(dBias, dZ.Slice(r * layer.Outputs, layer.Outputs), dBias);
            }

            if (l > 0)
            {
                var dInput = next.AsSpan(0, count * layer.Inputs);
                Gemm.MultiplyNT(count, layer.Inputs, layer.Outputs, dZ, layer.Weights(weights), dInput, accumulate: false, threads);
                ActivationFunctions.MultiplyByDerivative(Spec.Activation, input, dInput);
                (current, next) = (next, current);
            }
        }
        return loss;
    }

    private void Forward(ReadOnlySpan<float> weights, ReadOnlySpan<float> features, int count, MlpWorkspace ws)
    {
        if (weights.Length != ParameterCount)
        {
            throw new ArgumentException($"weights hold {weights.Length} values, the model has {ParameterCount}.", nameof(weights));
        }
        if (features.Length < count * Spec.Inputs)
        {
            throw new ArgumentException($"features hold {features.Length} values, expected {count} rows × {Spec.Inputs}.", nameof(features));
        }
        var input = features[..(count * Spec.Inputs)];
        for (var l = 0; l < _layers.Length; l++)
        {
            var layer = _layers[l];
            var output = ws.Activations[l].AsSpan(0, count * layer.Outputs);
            Gemm.MultiplyNN(count, layer.Outputs, layer.Inputs, input, layer.Weights(weights), output, accumulate: false, ws.Threads);
            var bias = layer.Bias(weights);
            for (var r = 0; r < count; r++)
            {
                var row = output.Slice(r * layer.Outputs, layer.Outputs);
                TensorPrimitives.Add(row, bias, row);
            }
            if (l < _layers.Length - 1)
            {
                ActivationFunctions.Apply(Spec.Activation, output);
            }
            input = output;
        }
    }

    private MlpWorkspace CheckWorkspace(ModelWorkspace workspace, int count)
    {
        if (workspace is not MlpWorkspace ws || ws.Owner != this)
        {
            throw new ArgumentException("the workspace was not created by this model", nameof(workspace));
        }
        if (count > ws.MaxBatch)
        {
            throw new ArgumentException($"batch of {count} rows exceeds the workspace's {ws.MaxBatch}.", nameof(workspace));
        }
        return ws;
    }

    private sealed class MlpWorkspace : ModelWorkspace
    {
        public MlpWorkspace(Mlp owner, int maxBatch, int threads) : base(maxBatch, threads)
        {
            Owner = owner;
            Activations = owner._layers.Select(layer => new float[maxBatch * layer.Outputs]).ToArray();
            var widest = owner._layers.Max(layer => Math.Max(layer.Inputs, layer.Outputs));
            DeltaA = new float[maxBatch * widest];
            DeltaB = new float[maxBatch * widest];
        }

        public Mlp Owner { get; }
        /// <summary>Post-activation output of each layer (the last one holds the logits or predictions).</summary>
        public float[][] Activations { get; }
        public float[] DeltaA { get; }
        public float[] DeltaB { get; }
    }
}

/// <summary>A dense layer's place in the flat parameter buffer: W (Inputs × Outputs) at Offset, then b (Outputs).</summary>
public readonly record struct DenseLayer(int Inputs, int Outputs, int Offset)
{
    public int ParameterCount => Inputs * Outputs + Outputs;

    public Span<float> Weights(Span<float> buffer) => buffer.Slice(Offset, Inputs * Outputs);

    public ReadOnlySpan<float> Weights(ReadOnlySpan<float> buffer) => buffer.Slice(Offset, Inputs * Outputs);

    public Span<float> Bias(Span<float> buffer) => buffer.Slice(Offset + Inputs * Outputs, Outputs);

    public ReadOnlySpan<float> Bias(ReadOnlySpan<float> buffer) => buffer.Slice(Offset + Inputs * Outputs, Outputs);
}
