namespace DistTrainer.Numerics.Training;

/// <summary>The order in which an epoch visits the training samples: a seeded permutation that depends only on (seed, epoch).</summary>
public static class EpochOrder
{
    public static int[] Create(int seed, int epoch, int sampleCount)
    {
        var order = new int[sampleCount];
        Fill(seed, epoch, order);
        return order;
    }

    public static void Fill(int seed, int epoch, Span<int> order)
    {
        for (var i = 0; i < order.Length; i++)
        {
            order[i] = i;
        }
        SeededRandom.For(seed, 2, epoch).Shuffle(order);
    }
}
