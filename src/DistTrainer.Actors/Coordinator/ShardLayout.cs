using DistTrainer.Actors.Messages;

namespace DistTrainer.Actors.Coordinator;

/// <summary>How the coordinator cuts the training rows into workers' shards.</summary>
public static class ShardLayout
{
    /// <summary>
    /// Rows [0, <paramref name="trainCount"/>) as <paramref name="workers"/> contiguous ranges of near-equal size, in
    /// worker order, each starting at a multiple of <paramref name="blockSize"/>. A range may be empty (Count 0) when
    /// there are more workers than blocks.
    /// </summary>
    public static RowRange[] Even(int trainCount, int workers, int blockSize)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(trainCount);
        ArgumentOutOfRangeException.ThrowIfLessThan(workers, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(blockSize, 1);
        var blocks = (trainCount + blockSize - 1) / blockSize;
        var ranges = new RowRange[workers];
        for (var i = 0; i < workers; i++)
        {
            var start = Boundary(i);
            ranges[i] = new RowRange(start, Boundary(i + 1) - start);
        }
        return ranges;

        int Boundary(int i) => (int)Math.Min(trainCount, (long)blocks * i / workers * blockSize);
    }

    /// <summary>Sorted, with touching ranges joined and empty ones left out.</summary>
    public static List<RowRange> Normalize(IEnumerable<RowRange> ranges)
    {
        var merged = new List<RowRange>();
        foreach (var r in ranges.Where(r => r.Count > 0).OrderBy(r => r.Start))
        {
            if (merged.Count > 0 && merged[^1].End == r.Start)
            {
                merged[^1] = new RowRange(merged[^1].Start, merged[^1].Count + r.Count);
            }
            else
            {
                merged.Add(r);
            }
        }
        return merged;
    }
}
