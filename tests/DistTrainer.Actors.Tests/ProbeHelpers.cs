using Akka.Actor;
using Akka.TestKit;
using DistTrainer.Actors.Messages;
using DistTrainer.Actors.Transfer;

namespace DistTrainer.Actors.Tests;

internal static class ProbeHelpers
{
    /// <summary>Receives chunks until a message of type T arrives; reassembles its tensor through <paramref name="assembler"/>.</summary>
    public static T ExpectTensorMessage<T>(this TestProbe probe, ChunkAssembler assembler, IActorRef from) where T : class
    {
        while (true)
        {
            var message = probe.ReceiveOne(TimeSpan.FromSeconds(10)) ?? throw new TimeoutException($"no {typeof(T).Name} arrived");
            switch (message)
            {
                case TensorChunk chunk:
                    Assert.True(assembler.Add(from, chunk, out var reason, out _), reason);
                    break;
                case T wanted:
                    return wanted;
                default:
                    throw new InvalidOperationException($"unexpected {message.GetType().Name} while waiting for {typeof(T).Name}");
            }
        }
    }

    public static float[] ExpectSnapshot(this TestProbe probe, IActorRef server, int length, out long version)
    {
        var assembler = new ChunkAssembler(8, length);
        var snapshot = probe.ExpectTensorMessage<ParametersSnapshot>(assembler, server);
        Assert.True(assembler.TryTake(server, snapshot.Length, snapshot.TransferId, snapshot.Weights, length, out var tensor, out var reason), reason);
        var weights = new float[length];
        tensor.CopyTo(weights);
        version = snapshot.Version;
        return weights;
    }

    /// <summary>Sends a gradient the way a worker does: chunks first, then the header, all from <paramref name="from"/>.</summary>
    public static void PushFrom(this IActorRef server, IActorRef from, float[] gradient, long version, long step, int part, int stepSamples, int samples,
        int chunkFloats, long transferId, double loss = 1.0, int correct = 0)
    {
        var tensor = OutgoingTensor.Create(gradient, transferId, chunkFloats);
        tensor.SendChunks(server, from);
        server.Tell(new PushGradients(0, 0, step, part, version, stepSamples, samples, loss, 10, tensor.Length, tensor.TransferId, tensor.Inline, correct), from);
    }
}
