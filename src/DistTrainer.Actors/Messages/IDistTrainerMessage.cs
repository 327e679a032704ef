namespace DistTrainer.Actors.Messages;

/// <summary>
/// Marker of every message that may cross the network. reference.conf binds it to
/// <see cref="Serialization.DistTrainerSerializer"/>; a wire message without it would silently fall back to JSON.
/// </summary>
public interface IDistTrainerMessage
{
}

/// <summary>How the parameter server combines gradients.</summary>
public enum TrainingMode
{
    /// <summary>Wait for the whole global batch of version v, average by sample count, apply once, broadcast v+1.</summary>
    Sync = 0,

    /// <summary>Apply each worker's gradient as it arrives; the worker then continues with the fresh weights.</summary>
    Async = 1,
}
