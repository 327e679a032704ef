using System.Runtime.CompilerServices;
using DistTrainer.Numerics.Data;
using DistTrainer.Numerics.Kernels;
using DistTrainer.Numerics.Models;
using DistTrainer.Numerics.Optimizers;

namespace DistTrainer.Numerics.Training;

/// <summary>
/// Single-process minibatch training: each epoch walks a seeded permutation of the training set in global batches,
/// computes the mean gradient and applies the optimizer. The step allocates nothing.
/// </summary>
public sealed class Trainer
{
    private readonly IModel _model;
    private readonly Dataset _train;
    private readonly TrainingOptions _options;
    private readonly ModelWorkspace _workspace;
    private readonly float[] _gradient;
    private readonly float[] _batchFeatures;
    private readonly float[] _batchTargets;
    private readonly int[] _batchIds;
    private readonly int[] _order;

    public Trainer(IModel model, Dataset train, TrainingOptions options, float[]? initialWeights = null)
    {
        options.Validate();
        if (train.FeatureCount != model.Spec.Inputs)
        {
            throw new ArgumentException($"the data has {train.FeatureCount} features, the model expects {model.Spec.Inputs}");
        }
        _model = model;
        _train = train;
        _options = options;
        Weights = new float[model.ParameterCount];
        if (initialWeights is null)
        {
            model.Initialize(Weights, options.Seed);
        }
        else
        {
            initialWeights.AsSpan().CopyTo(Weights);
        }
        Optimizer = options.Optimizer.Create(model.ParameterCount);
        var batch = Math.Min(options.BatchSize, train.Count);
        _workspace = model.CreateWorkspace(batch, options.Threads);
        _gradient = new float[model.ParameterCount];
        _batchFeatures = new float[batch * train.FeatureCount];
        _batchTargets = new float[batch];
        _batchIds = new int[batch];
        _order = new int[train.Count];
    }

    public float[] Weights { get; }

    public IOptimizer Optimizer { get; }

    /// <summary>Optimizer steps taken so far.</summary>
    public long Step { get; private set; }

    public IModel Model => _model;

    /// <summary>The model's scratch state; for persistent CD it also holds the fantasy chains a checkpoint carries.</summary>
    public ModelWorkspace Workspace => _workspace;

    /// <summary>Rows of the last <see cref="TrainStep"/> the model predicted right before the update (classification; else 0).</summary>
    public int LastCorrect => _workspace.Correct;

    /// <summary>Sets the step counter when a run resumes from a checkpoint (models that sample seed from it).</summary>
    public void RestoreStep(long step)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(step);
        Step = step;
    }

    /// <summary>Trains one epoch (0-based) and returns its mean training loss and sample count.</summary>
    public EpochStats TrainEpoch(int epoch, Action<long, int>? onStep = null)
    {
        EpochOrder.Fill(_options.Seed, epoch, _order);
        double lossSum = 0;
        var seen = 0;
        for (var start = 0; start < _order.Length; start += _options.BatchSize)
        {
            var rows = _order.AsSpan(start, Math.Min(_options.BatchSize, _order.Length - start));
            lossSum += TrainStep(rows);
            seen += rows.Length;
            onStep?.Invoke(Step, seen);
        }
        return new EpochStats(lossSum / Math.Max(1, seen), seen);
    }

    /// <summary>
    /// One optimizer step on the given training rows; returns their summed loss. A loss that is NaN or infinite throws
    /// <see cref="TrainingDivergedException"/> and leaves the weights as they were.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)] // a short run's thousands of tiny steps would start as tier-0 code
    public double TrainStep(ReadOnlySpan<int> rows)
    {
        var count = rows.Length;
        var features = _train.FeatureCount;
        RowGather.Gather(_train.Features, features, rows, _batchFeatures);
        for (var i = 0; i < count; i++)
        {
            _batchTargets[i] = _train.Targets[rows[i]];
            _batchIds[i] = rows[i];
        }
        var batch = new Batch(_batchFeatures.AsSpan(0, count * features), _batchTargets.AsSpan(0, count), _batchIds.AsSpan(0, count), Step);
        var loss = _model.ComputeGradient(Weights, batch, _gradient, _workspace);
        if (!double.IsFinite(loss))
        {
            throw new TrainingDivergedException(Step);
        }
        ElementWise.Scale(_gradient, 1f / count);   // not TensorPrimitives: its non-temporal stores evict what Step reads next
        Optimizer.Step(Weights, _gradient);
        Step++;
        return loss;
    }
}

/// <summary>What one epoch of training did: its mean per-sample loss and how many samples it used.</summary>
public readonly record struct EpochStats(double MeanLoss, int Samples);
