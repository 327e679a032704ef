using DistTrainer.Actors.Messages;
using DistTrainer.Numerics.Data;

namespace DistTrainer.Actors.Worker;

/// <summary>
/// Where a worker gets its training rows. <see cref="LoadShard"/> returns exactly the rows of the given ranges and
/// keeps no reference to the rest of the split, so a worker holds only its shard.
/// </summary>
public interface ITrainingData
{
    /// <summary>The features per row (checked against the model before the worker registers).</summary>
    int FeatureCount { get; }

    /// <summary>
    /// The rows of <paramref name="ranges"/> of a training split that must hold <paramref name="trainCount"/> rows.
    /// Throws <see cref="InvalidDataException"/> when the split or the ranges do not fit.
    /// </summary>
    TrainingShard LoadShard(IReadOnlyList<RowRange> ranges, int trainCount);
}

/// <summary>The local simulation's data: one immutable split in memory, from which each worker copies its own rows.</summary>
public sealed class InMemoryTrainingData(Dataset train) : ITrainingData
{
    public int FeatureCount => train.FeatureCount;

    public TrainingShard LoadShard(IReadOnlyList<RowRange> ranges, int trainCount) => TrainingShard.Cut(train, ranges, trainCount);
}

/// <summary>
/// The rows a worker holds (copies of some ranges of the training split) and the map from a global training-row index
/// to its place here: a binary search over the few ranges, so a lookup allocates nothing.
/// </summary>
public sealed class TrainingShard
{
    private readonly int[] _starts;
    private readonly int[] _ends;
    private readonly int[] _firstLocal;
    private readonly float[] _features;
    private readonly float[] _targets;

    private TrainingShard(RowRange[] ranges, int featureCount, float[] features, float[] targets)
    {
        Ranges = ranges;
        FeatureCount = featureCount;
        _features = features;
        _targets = targets;
        _starts = new int[ranges.Length];
        _ends = new int[ranges.Length];
        _firstLocal = new int[ranges.Length];
        var local = 0;
        for (var i = 0; i < ranges.Length; i++)
        {
            _starts[i] = ranges[i].Start;
            _ends[i] = ranges[i].End;
            _firstLocal[i] = local;
            local += ranges[i].Count;
        }
    }

    /// <summary>No rows: what a worker holds before its first assignment.</summary>
    public static TrainingShard Empty(int featureCount) => new([], featureCount, [], []);

    public IReadOnlyList<RowRange> Ranges { get; }

    public int FeatureCount { get; }

    /// <summary>The number of rows held.</summary>
    public int Count => _targets.Length;

    /// <summary>Copies the rows of <paramref name="ranges"/> out of <paramref name="split"/>; the shard keeps no reference to it.</summary>
    public static TrainingShard Cut(Dataset split, IReadOnlyList<RowRange> ranges, int trainCount)
    {
        ArgumentNullException.ThrowIfNull(split);
        ArgumentNullException.ThrowIfNull(ranges);
        if (split.Count != trainCount)
        {
            throw new InvalidDataException($"the training split of {split.Name} has {split.Count} rows, the job's has {trainCount}");
        }
        var rows = 0;
        for (var i = 0; i < ranges.Count; i++)
        {
            var r = ranges[i];
            if (r.Start < 0 || r.Count < 1 || r.End > trainCount || (i > 0 && r.Start < ranges[i - 1].End))
            {
                throw new InvalidDataException($"shard range {r} is empty, out of order or outside the {trainCount} training rows");
            }
            rows += r.Count;
        }
        var width = split.FeatureCount;
        var features = new float[(long)rows * width];
        var targets = new float[rows];
        var local = 0;
        foreach (var r in ranges)
        {
            Array.Copy(split.Features, (long)r.Start * width, features, (long)local * width, (long)r.Count * width);
            Array.Copy(split.Targets, r.Start, targets, local, r.Count);
            local += r.Count;
        }
        return new TrainingShard([.. ranges], width, features, targets);
    }

    /// <summary>The local index of training row <paramref name="row"/>, or -1 when this shard does not hold it.</summary>
    public int LocalIndex(int row)
    {
        var i = Array.BinarySearch(_starts, row);
        if (i < 0)
        {
            i = ~i - 1; // the last range starting before the row
        }
        return i >= 0 && row < _ends[i] ? _firstLocal[i] + row - _starts[i] : -1;
    }

    /// <summary>True when every row of <paramref name="rows"/> is held here.</summary>
    public bool HoldsAll(ReadOnlySpan<int> rows)
    {
        foreach (var row in rows)
        {
            if (LocalIndex(row) < 0)
            {
                return false;
            }
        }
        return true;
    }

    public ReadOnlySpan<float> Row(int local) => _features.AsSpan(local * FeatureCount, FeatureCount);

    /// <summary>Every held row, row-major, in local order.</summary>
    public ReadOnlySpan<float> Features => _features;

    public float Target(int local) => _targets[local];

    public override string ToString() => Ranges.Count == 0 ? "no rows" : $"{Count} rows {string.Join(" ", Ranges)}";
}
