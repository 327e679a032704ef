using Akka.Configuration;
using DistTrainer.Actors;
using DistTrainer.Numerics.Data;
using DistTrainer.Numerics.Models;

namespace DistTrainer.Actors.Tests;

/// <summary>Shared fixtures: the spec HOCON every TestKit spec runs with, and the standardized digits split.</summary>
internal static class TestData
{
    /// <summary>Every message is serialized on every send, so a missing binding or a broken contract fails the test.</summary>
    public const string SpecHocon = """
        akka.loglevel = WARNING
        akka.actor.serialize-messages = on
        akka.actor.serialize-creators = off
        akka.log-dead-letters = off
        akka.log-dead-letters-during-shutdown = off
        """;

    public static Config SpecConfig { get; } = ConfigurationFactory.ParseString(SpecHocon).WithFallback(DistTrainerConfig.Default);

    private static readonly Lazy<(Dataset Train, Dataset Test)> _digits = new(() =>
    {
        var loaded = DatasetCatalog.Load("digits");
        var scaler = Standardizer.Fit(loaded.Train);
        return (scaler.Apply(loaded.Train), scaler.Apply(loaded.Test));
    });

    public static Dataset DigitsTrain => _digits.Value.Train;

    public static Dataset DigitsTest => _digits.Value.Test;

    public static ModelSpec DigitsSpec(params int[] hidden) =>
        Mlp.CreateSpec(64, hidden.Length == 0 ? [32] : hidden, 10, Activation.Relu, TaskKind.Classification);

    public static float[] Random(int length, int seed)
    {
        var rng = new Random(seed);
        var values = new float[length];
        for (var i = 0; i < length; i++)
        {
            values[i] = (float)(rng.NextDouble() * 2 - 1);
        }
        return values;
    }
}
