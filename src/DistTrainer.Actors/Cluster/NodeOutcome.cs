namespace DistTrainer.Actors.Cluster;

/// <summary>How a node's part in the job ended, as far as the node itself knows. Thread-safe; the first verdict wins.</summary>
public sealed class NodeOutcome
{
    private readonly object _gate = new();

    public NodeOutcomeKind Kind { get; private set; } = NodeOutcomeKind.Running;

    public string? Reason { get; private set; }

    public void JobFinished(bool succeeded) => Set(succeeded ? NodeOutcomeKind.JobSucceeded : NodeOutcomeKind.JobFailed, null);

    public void Refused(string reason) => Set(NodeOutcomeKind.Refused, reason);

    public void Failed(string reason) => Set(NodeOutcomeKind.Failed, reason);

    public void Interrupted(string reason) => Set(NodeOutcomeKind.Interrupted, reason);

    private void Set(NodeOutcomeKind kind, string? reason)
    {
        lock (_gate)
        {
            if (Kind == NodeOutcomeKind.Running)
            {
                Kind = kind;
                Reason = reason;
            }
        }
    }
}

public enum NodeOutcomeKind
{
    Running,
    JobSucceeded,
    JobFailed,
    Refused,
    Failed,
    Interrupted,
}
