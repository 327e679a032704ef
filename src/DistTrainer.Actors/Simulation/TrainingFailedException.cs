namespace DistTrainer.Actors.Simulation;

/// <summary>The coordinator ended the job without finishing it; <see cref="Reason"/> says why (for example, the training diverged).</summary>
public sealed class TrainingFailedException(string reason) : Exception($"training failed: {reason}")
{
    public string Reason { get; } = reason;
}
