using DistTrainer.Numerics.Optimizers;

namespace DistTrainer.Numerics.Training;

/// <summary>How to run gradient descent: epochs, global batch size, optimizer, seed and compute threads per process.</summary>
public sealed record TrainingOptions(int Epochs, int BatchSize, OptimizerOptions Optimizer, int Seed, int Threads = 1)
{
    public void Validate()
    {
        if (Epochs < 1)
        {
            throw new ArgumentException($"--epochs must be at least 1, got {Epochs}");
        }
        if (BatchSize < 1)
        {
            throw new ArgumentException($"--batch must be at least 1, got {BatchSize}");
        }
        if (Threads < 1)
        {
            throw new ArgumentException($"--threads must be at least 1, got {Threads}");
        }
        if (!(Optimizer.LearningRate > 0) || !float.IsFinite(Optimizer.LearningRate))
        {
            throw new ArgumentException($"--lr must be a positive number, got {Optimizer.LearningRate}");
        }
        if (Optimizer.WeightDecay < 0 || !float.IsFinite(Optimizer.WeightDecay))
        {
            throw new ArgumentException($"--weight-decay must be zero or positive, got {Optimizer.WeightDecay}");
        }
    }
}
