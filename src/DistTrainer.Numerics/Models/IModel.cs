using DistTrainer.Numerics.Data;

namespace DistTrainer.Numerics.Models;

/// <summary>
/// One minibatch: Count rows of features (row-major, Count × inputs) and their targets.
/// <see cref="SampleIds"/> are the rows' indices in the training set and <see cref="Step"/> the global step;
/// a model that samples (the RBM) seeds its randomness from them, so a batch split across workers draws
/// exactly the same random numbers as the whole batch in one process.
/// </summary>
public readonly ref struct Batch
{
    public Batch(ReadOnlySpan<float> features, ReadOnlySpan<float> targets, ReadOnlySpan<int> sampleIds, long step)
    {
        Features = features;
        Targets = targets;
        SampleIds = sampleIds;
        Step = step;
    }

    public ReadOnlySpan<float> Features { get; }
    public ReadOnlySpan<float> Targets { get; }
    public ReadOnlySpan<int> SampleIds { get; }
    public long Step { get; }
    public int Count => Targets.Length;
}

/// <summary>
/// A trainable model over one flat parameter buffer. The model holds no weights: callers pass the buffer in, and
/// gradients use the same layout, so the parameter server and the optimizers never need to know which model they serve.
/// </summary>
public interface IModel
{
    ModelSpec Spec { get; }

    int ParameterCount { get; }

    /// <summary>Fills <paramref name="weights"/> with a seeded initialisation (He or Xavier for dense layers, zero biases).</summary>
    void Initialize(Span<float> weights, int seed);

    /// <summary>Scratch memory for batches of up to <paramref name="maxBatch"/> rows. One workspace per concurrent caller.</summary>
    ModelWorkspace CreateWorkspace(int maxBatch, int threads = 1);

    /// <summary>
    /// Adds the gradient of the summed per-sample loss over the batch to <paramref name="gradientSum"/>
    /// (so a caller divides by the total sample count once) and returns the summed loss. Allocates nothing.
    /// </summary>
    double AccumulateGradient(ReadOnlySpan<float> weights, in Batch batch, Span<float> gradientSum, ModelWorkspace workspace);

    /// <summary>
    /// As <see cref="AccumulateGradient"/>, but writes the gradient over whatever <paramref name="gradient"/> held, so a
    /// step needs no clearing pass first. The floats are those of accumulating into zeros.
    /// </summary>
    double ComputeGradient(ReadOnlySpan<float> weights, in Batch batch, Span<float> gradient, ModelWorkspace workspace)
    {
        gradient.Clear();
        return AccumulateGradient(weights, batch, gradient, workspace);
    }
}

/// <summary>Per-caller scratch buffers of a model, sized once for a maximum batch.</summary>
public abstract class ModelWorkspace
{
    protected ModelWorkspace(int maxBatch, int threads)
    {
        MaxBatch = maxBatch;
        Threads = threads;
    }

    public int MaxBatch { get; }
    public int Threads { get; }

    /// <summary>
    /// Lets threads idling in <see cref="Kernels.SpareThreads.Help"/> take row blocks of the largest products of a
    /// one-thread caller (an MLP's weight gradients), for callers whose peers wait on them: simulation workers in a
    /// synchronous step. The floats are the same either way.
    /// </summary>
    public bool IdleThreadsMayHelp { get; set; }

    /// <summary>
    /// Rows of the last gradient's batch (<see cref="IModel.AccumulateGradient"/> or <see cref="IModel.ComputeGradient"/>)
    /// that a classifier predicted right (its highest output is the label); 0 for models without classes. The training
    /// accuracy of a step, counted in the forward pass.
    /// </summary>
    public int Correct { get; protected internal set; }
}

/// <summary>The kind of model a spec describes.</summary>
public enum ModelKind
{
    Mlp,
    Rbm,
}

/// <summary>Hidden-layer non-linearity of an MLP.</summary>
public enum Activation
{
    Relu,
    Tanh,
    Sigmoid,
}

/// <summary>
/// Everything needed to rebuild a model's shape: sent to workers, stored in model files and checkpoints,
/// and compared when a node joins a running job.
/// </summary>
public sealed record ModelSpec(ModelKind Kind, int Inputs, int[] Hidden, int Outputs, Activation Activation, TaskKind Task)
{
    public override string ToString() => Kind switch
    {
        ModelKind.Rbm => $"rbm {Inputs}-{Hidden[0]}",
        _ => $"mlp {Inputs}-{string.Join('-', Hidden)}{(Hidden.Length > 0 ? "-" : "")}{Outputs} {Activation.ToString().ToLowerInvariant()}",
    };

    public bool Equals(ModelSpec? other) =>
        other is not null && Kind == other.Kind && Inputs == other.Inputs && Hidden.AsSpan().SequenceEqual(other.Hidden)
        && Outputs == other.Outputs && Activation == other.Activation && Task == other.Task;

    public override int GetHashCode() => HashCode.Combine(Kind, Inputs, Hidden.Length, Outputs, Activation, Task);
}
