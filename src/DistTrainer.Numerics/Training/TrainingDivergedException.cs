namespace DistTrainer.Numerics.Training;

/// <summary>
/// A training step's loss came out NaN or infinite: the weights have overflowed, and every later step would fail the
/// same way. Thrown before that step's update, so the weights are the last ones that gave a finite loss.
/// </summary>
public sealed class TrainingDivergedException(long step)
    : Exception($"training failed: the training diverged at step {step}: its loss is NaN or infinite; a lower learning rate may help")
{
    public long Step { get; } = step;
}
