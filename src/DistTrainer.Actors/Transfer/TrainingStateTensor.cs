using Akka.Actor;

namespace DistTrainer.Actors.Transfer;

/// <summary>
/// The weights + optimizer state tensor of checkpoints (<see cref="Messages.TrainingState"/>,
/// <see cref="Messages.RestoreTrainingState"/>): how long it may be, and how it is sent.
/// </summary>
public static class TrainingStateTensor
{
    /// <summary>The longest state a model of <paramref name="weightCount"/> parameters has: weights + Adam's step count and two moments.</summary>
    public static int MaxLength(int weightCount) => (int)Math.Min(int.MaxValue, 3L * weightCount + 1);

    /// <summary>Weights followed by the optimizer state, in one new array.</summary>
    public static float[] Concat(ReadOnlySpan<float> weights, ReadOnlySpan<float> optimizerState)
    {
        var data = new float[weights.Length + optimizerState.Length];
        weights.CopyTo(data);
        optimizerState.CopyTo(data.AsSpan(weights.Length));
        return data;
    }

    /// <summary>
    /// Sends <paramref name="data"/> (which the caller no longer touches) with the header <paramref name="header"/>
    /// builds from (length, transfer id, inline data): inline by reference to a local actor, chunked and
    /// flow-controlled to another node.
    /// </summary>
    public static void Send(ActorSystem system, IActorRef target, float[] data, long transferId, int chunkFloats, Func<int, long, float[], object> header, IActorRef sender)
    {
        if (LocalTensor.IsLocal(system, target))
        {
            target.Tell(header(data.Length, 0, data), sender);
            return;
        }
        var tensor = OutgoingTensor.Create(data, transferId, chunkFloats);
        tensor.SendTo(system, target, header(tensor.Length, tensor.TransferId, tensor.Inline), sender);
        tensor.Release();
    }
}
