using MessagePack;

namespace DistTrainer.Actors.Messages;

/// <summary>
/// One ordered piece of a tensor larger than <c>disttrainer.chunk-size</c>. A sender sends all chunks of a transfer
/// and then the message that names the transfer (e.g. <see cref="PushGradients"/> with <c>TransferId</c> set); Akka keeps
/// the order between one sender and one receiver, so the receiver holds every chunk by the time the header arrives.
/// Chunks carry their own offset and the total length so a receiver can check a set without trusting its order.
/// </summary>
[MessagePackObject]
public sealed record TensorChunk(
    [property: Key(0)] long TransferId,
    [property: Key(1)] int Index,
    [property: Key(2)] int Count,
    [property: Key(3)] int TotalLength,
    [property: Key(4)] int Offset,
    [property: Key(5)] float[] Data) : IDistTrainerMessage;
