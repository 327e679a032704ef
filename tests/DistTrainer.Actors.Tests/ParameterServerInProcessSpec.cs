using System.Collections.Concurrent;
using Akka.Actor;
using DistTrainer.Actors.Messages;
using DistTrainer.Actors.ParameterServer;
using DistTrainer.Actors.Transfer;
using DistTrainer.Numerics.Optimizers;

namespace DistTrainer.Actors.Tests;

/// <summary>
/// The parameter server as the local simulation runs it: pushes from workers in the same process arrive by reference,
/// with their lease and the sender's own NaN/infinity finding, which messages through serialization (every TestKit
/// spec) never carry. So this spec runs its own ActorSystem with plain in-process delivery.
/// </summary>
public sealed class ParameterServerInProcessSpec : IAsyncLifetime, IDisposable
{
    private const int Length = 40;
    private readonly ActorSystem _system = ActorSystem.Create("in-process", DistTrainerConfig.Default);
    private readonly BlockingCollection<object> _seen = new();
    private readonly TensorPool _pool = new(Length);

    [Fact]
    public void ParameterServer_should_take_an_in_process_workers_own_finding_on_its_gradient()
    {
        var settings = new ParameterServerSettings(TrainingMode.Sync, new OptimizerOptions(OptimizerKind.Sgd, 0.5f));
        var server = _system.ActorOf(ParameterServerActor.Props(settings, TestData.Random(Length, 1)));
        var worker = _system.ActorOf(Props.Create(() => new Recorder(_seen)));
        server.Tell(new RegisterCoordinator(Length), worker);

        // Every value is finite, but the worker found otherwise: the server believes it and looks no further.
        server.Tell(Push(part: 0, TestData.Random(Length, 2), senderFoundFinite: false), worker);
        Assert.Contains("NaN or infinity", Next<GradientRejected>().Reason);

        server.Tell(Push(part: 0, TestData.Random(Length, 2), senderFoundFinite: true), worker);
        Assert.Equal(0, Next<GradientAccepted>().Part);
    }

    /// <summary>Part <paramref name="part"/> of a two-part step of 4 samples, as a worker in this process sends it.</summary>
    private PushGradients Push(int part, float[] values, bool senderFoundFinite)
    {
        var gradient = _pool.Rent();
        values.CopyTo(gradient, 0);
        return new PushGradients(part, 0, 0, part, 0, 4, 2, 1.0, 10, Length, 0, gradient, 0)
        {
            Lease = _pool.Lease(gradient, 1),
            SenderFoundFinite = senderFoundFinite,
        };
    }

    private T Next<T>()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        while (true)
        {
            if (_seen.Take(timeout.Token) is T message)
            {
                return message;
            }
        }
    }

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync() => await _system.Terminate();

    public void Dispose() => _seen.Dispose();

    private sealed class Recorder : ReceiveActor
    {
        public Recorder(BlockingCollection<object> seen) => ReceiveAny(seen.Add);
    }
}
