using Akka.Actor;
using Akka.Configuration;

namespace DistTrainer.Actors;

/// <summary>The <c>disttrainer { }</c> section, read once per ActorSystem. Immutable; <c>WithX</c> returns a copy.</summary>
public sealed record DistTrainerSettings(int ChunkBytes, TimeSpan StepTimeout, int MaxOpenTransfers)
{
    public const string WorkerDispatcher = "disttrainer.worker-dispatcher";
    public const string ParameterServerDispatcher = "disttrainer.parameter-server-dispatcher";
    public const string SimulationSharedDispatcher = "disttrainer.simulation-shared-dispatcher";
    public const string SimulationWorkerDispatcher = "disttrainer.simulation-worker-dispatcher";

    /// <summary>Floats per chunk (at least one).</summary>
    public int ChunkFloats => Math.Max(1, ChunkBytes / sizeof(float));

    public static DistTrainerSettings Create(ActorSystem system) => Create(system.Settings.Config);

    public static DistTrainerSettings Create(Config config)
    {
        var section = config.GetConfig("disttrainer").WithFallback(DistTrainerConfig.Default.GetConfig("disttrainer"));
        var chunkBytes = section.GetByteSize("chunk-size") ?? 64000;
        if (chunkBytes < sizeof(float) || chunkBytes > int.MaxValue)
        {
            throw new ConfigurationException($"disttrainer.chunk-size must be between 4 bytes and 2 GB, got {chunkBytes}");
        }
        var timeout = section.GetTimeSpan("step-timeout", TimeSpan.FromSeconds(10));
        if (timeout <= TimeSpan.Zero)
        {
            throw new ConfigurationException($"disttrainer.step-timeout must be positive, got {timeout}");
        }
        var maxOpen = section.GetInt("max-open-transfers", 64);
        return new DistTrainerSettings((int)chunkBytes, timeout, Math.Max(1, maxOpen));
    }

    public static DistTrainerSettings Default { get; } = Create(DistTrainerConfig.Default);

    public DistTrainerSettings WithStepTimeout(TimeSpan timeout) => this with { StepTimeout = timeout };

    public DistTrainerSettings WithChunkBytes(int bytes) => this with { ChunkBytes = bytes };
}
