using System.Diagnostics;
using Akka.Actor;
using Akka.Configuration;
using DistTrainer.Actors.Coordinator;
using DistTrainer.Actors.Messages;
using DistTrainer.Actors.ParameterServer;
using DistTrainer.Actors.Worker;
using DistTrainer.Numerics;
using DistTrainer.Numerics.Data;
using DistTrainer.Numerics.Models;
using DistTrainer.Numerics.Training;

namespace DistTrainer.Actors.Simulation;

/// <summary>What a distributed run produced: per-epoch reports, final weights, and how many samples each epoch used.</summary>
public sealed record DistributedTrainingResult(
    IReadOnlyList<EpochReport> Epochs,
    float[] Weights,
    long Steps,
    int[] SamplesSeenPerEpoch,
    int Workers,
    TrainingMode Mode,
    double Seconds);

/// <summary>Entry points that run the actor protocol; the CLI's <c>train --workers N</c> calls <see cref="RunLocalAsync"/>.</summary>
public static class DistributedTraining
{
    private const long CrashStream = 0x43524153; // "CRAS": the seeded stream that places simulated crashes

    /// <summary>The batch index inside epoch <paramref name="epoch"/> (1-based) at which a simulated crash happens.</summary>
    public static int CrashBatchIndex(int seed, int epoch, int stepsPerEpoch) =>
        stepsPerEpoch <= 1 ? 0 : SeededRandom.For(seed, CrashStream, epoch).NextInt(stepsPerEpoch);

    /// <summary>
    /// Runs the whole job in one ActorSystem: a parameter server, a coordinator and N workers, each worker on its own
    /// thread. Reports each epoch through <paramref name="progress"/> (on an actor thread) and returns when the last
    /// epoch is evaluated. With <see cref="LocalSimulationOptions.Resume"/> it continues a checkpointed job. Throws <see cref="InvalidOperationException"/> if the job fails and
    /// <see cref="OperationCanceledException"/> when cancelled.
    /// </summary>
    public static async Task<DistributedTrainingResult> RunLocalAsync(LocalSimulationOptions options, IProgress<EpochReport>? progress = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        var training = options.Training;
        var model = ModelFactory.Create(options.Model, options.EffectiveRbm);
        var weights = new float[model.ParameterCount];
        if (options.InitialWeights is { } initial)
        {
            if (initial.Length != weights.Length)
            {
                throw new ArgumentException($"initial weights hold {initial.Length} values, the model has {weights.Length}");
            }
            initial.CopyTo(weights, 0);
        }
        else
        {
            model.Initialize(weights, training.Seed);
        }

        var config = BuildConfig(options);
        var system = ActorSystem.Create("disttrainer", config);
        var started = Stopwatch.GetTimestamp();
        try
        {
            var settings = DistTrainerSettings.Create(system);
            var finished = new TaskCompletionSource<object>(TaskCreationOptions.RunContinuationsAsynchronously);
            using var registration = cancellationToken.Register(() => finished.TrySetCanceled(cancellationToken));
            var onCheckpoint = options.OnCheckpoint;
            var observer = system.ActorOf(Akka.Actor.Props.Create(() => new SimulationObserver(progress, options.StepProgress, onCheckpoint, finished)), "observer");

            var psSettings = new ParameterServerSettings(options.Mode, training.Optimizer)
            {
                ChunkFloats = settings.ChunkFloats,
                MaxOpenTransfers = settings.MaxOpenTransfers,
            };
            // Sync steps get the simulation's dispatchers (reference.conf): the server and the coordinator on worker 0's
            // thread, threads that spin a little before they sleep. Async keeps the defaults: there the server answers
            // each push at once and must not wait for worker 0's gradient.
            var sync = options.Mode == TrainingMode.Sync;
            Props On(Props props, string dispatcher) => sync ? props.WithDispatcher(dispatcher) : props;
            var parameterServer = system.ActorOf(On(ParameterServerActor.Props(psSettings, weights), DistTrainerSettings.SimulationSharedDispatcher), "parameter-server");

            var batch = Math.Min(training.BatchSize, options.Train.Count);
            var coordinatorSettings = new CoordinatorSettings(options.Mode, training.Epochs, batch, training.Seed, options.Train.Count, model.ParameterCount, options.Workers)
            {
                StepTimeout = settings.StepTimeout,
                MaxOpenTransfers = settings.MaxOpenTransfers,
                ProgressEvery = options.StepProgress is null ? 0 : options.ProgressEvery,
                ProgressInterval = options.StepProgress is null ? TimeSpan.Zero : options.ProgressInterval,
                ChunkFloats = settings.ChunkFloats,
                Checkpoints = options.OnCheckpoint is not null,
                CheckpointEvery = options.CheckpointEvery,
                Resume = options.Resume,
            };
            coordinatorSettings.CheckResume();
            var evaluate = CreateEvaluator(model, options);
            var coordinator = system.ActorOf(On(CoordinatorActor.Props(coordinatorSettings, parameterServer, evaluate, observer), DistTrainerSettings.SimulationSharedDispatcher), "coordinator");

            var data = new InMemoryTrainingData(options.Train); // each worker copies out only the rows of its shard
            for (var i = 0; i < options.Workers; i++)
            {
                var workerSettings = new WorkerSettings(i, options.Model, batch, training.Threads)
                {
                    Rbm = options.EffectiveRbm,
                    ChunkFloats = settings.ChunkFloats,
                    MaxOpenTransfers = settings.MaxOpenTransfers,
                    ChecksOwnGradient = sync && i > 0, // worker 0 shares the server's thread
                    PreparesAhead = !sync || i > 0, // worker 0's early gather would hold back the server's step
                    IdleThreadsMayHelp = sync && options.Workers > 1,
                    MessageDelay = TimeSpan.FromMilliseconds(options.Stragglers.Where(s => s.Worker == i).Sum(s => s.DelayMilliseconds)),
                    CrashAt = options.Crashes.Where(c => c.Worker == i).OrderBy(c => c.Epoch).Select(c => (CrashPoint?)new CrashPoint(c.Epoch - 1,
                        CrashBatchIndex(training.Seed, c.Epoch, coordinatorSettings.StepsPerEpoch))).FirstOrDefault(),
                };
                var dispatcher = i == 0 ? DistTrainerSettings.SimulationSharedDispatcher : DistTrainerSettings.SimulationWorkerDispatcher;
                system.ActorOf(On(WorkerActor.Props(workerSettings, data, coordinator, parameterServer), dispatcher), $"worker-{i}");
            }

            var outcome = await finished.Task.ConfigureAwait(false);
            if (outcome is TrainingFailed failed)
            {
                throw new TrainingFailedException(failed.Reason);
            }
            var done = (TrainingFinished)outcome;
            return new DistributedTrainingResult(done.Epochs, done.Weights, done.Version, done.SamplesSeenPerEpoch, options.Workers, options.Mode,
                Stopwatch.GetElapsedTime(started).TotalSeconds);
        }
        finally
        {
            await system.Terminate().ConfigureAwait(false);
        }
    }

    /// <summary>The configuration of a local simulation: quiet stdout, logs on stderr, library defaults last.</summary>
    public static Config BuildConfig(LocalSimulationOptions options)
    {
        var hocon = $$"""
            akka {
              loglevel = {{options.LogLevel}}
              stdout-loglevel = OFF
              loggers = ["DistTrainer.Actors.Simulation.StderrLogger, DistTrainer.Actors"]
              log-dead-letters = off
              log-dead-letters-during-shutdown = off
            }
            """;
        var config = ConfigurationFactory.ParseString(hocon);
        if (options.StepTimeout is { } timeout)
        {
            config = ConfigurationFactory.ParseString($"disttrainer.step-timeout = {(long)timeout.TotalMilliseconds}ms").WithFallback(config);
        }
        if (options.Config is not null)
        {
            config = options.Config.WithFallback(config);
        }
        return config.WithFallback(DistTrainerConfig.Default);
    }

    /// <summary>
    /// The coordinator's per-epoch evaluation (it runs off the actor thread, one epoch at a time). MLP: the test split.
    /// RBM: <see cref="RbmPipeline.Measure"/> on the train and test splits (the pseudo-log-likelihood seeded with the
    /// job seed, as in single-process training), its test reconstruction error as the loss.
    /// </summary>
    private static Func<float[], Evaluation>? CreateEvaluator(IModel model, LocalSimulationOptions options)
    {
        if (model is Rbm rbm)
        {
            return RbmEvaluator(rbm, options.Train, options.Test, options.Training.Seed, options.Training.Threads);
        }
        if (options.Test is not { Count: > 0 } test || model is not Mlp mlp)
        {
            return null;
        }
        var scaling = options.TargetScaling;
        return w => Evaluator.Evaluate(mlp, w, test, scaling);
    }

    /// <summary>
    /// An RBM job's per-epoch evaluation (simulation and cluster coordinator alike): <see cref="RbmPipeline.Measure"/> on
    /// the train and test splits, the test reconstruction error (train without a test split) as the loss.
    /// </summary>
    public static Func<float[], Evaluation> RbmEvaluator(Rbm rbm, Dataset train, Dataset? test, int seed, int threads)
    {
        var rbmTest = test is { Count: > 0 } ? test : null;
        return w =>
        {
            var metrics = RbmPipeline.Measure(rbm, w, train, rbmTest, seed, rbm.CreateWorkspace(256, threads));
            return new Evaluation(rbmTest is null ? metrics.TrainReconstructionError : metrics.TestReconstructionError, null, null, null, null) { Rbm = metrics };
        };
    }

    /// <summary>Forwards the coordinator's reports to the caller.</summary>
    private sealed class SimulationObserver : ReceiveActor
    {
        public SimulationObserver(IProgress<EpochReport>? progress, IProgress<TrainingProgress>? stepProgress, Action<CheckpointTaken>? onCheckpoint, TaskCompletionSource<object> finished)
        {
            Receive<EpochReport>(r => progress?.Report(r));
            Receive<TrainingProgress>(p => stepProgress?.Report(p));
            Receive<CheckpointTaken>(c => onCheckpoint?.Invoke(c));
            Receive<TrainingFinished>(f => finished.TrySetResult(f));
            Receive<TrainingFailed>(f => finished.TrySetResult(f));
        }
    }
}
