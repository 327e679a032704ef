using DistTrainer.Numerics;

namespace DistTrainer.Cli.Bench;

/// <summary>The peer benchmarks' data: U[0,1) inputs and uniformly random class labels, seeded.</summary>
public static class SyntheticData
{
    /// <returns>features (samples × inputs, row-major) and one label per sample.</returns>
    public static (float[] Features, float[] Labels) Classification(int samples, int inputs, int classes, int seed = 42)
    {
        var rng = new SeededRandom((ulong)seed);
        var x = new float[samples * inputs];
        for (var i = 0; i < x.Length; i++)
        {
            x[i] = rng.NextFloat();
        }
        var y = new float[samples];
        for (var i = 0; i < samples; i++)
        {
            y[i] = rng.NextInt(classes);
        }
        return (x, y);
    }
}
