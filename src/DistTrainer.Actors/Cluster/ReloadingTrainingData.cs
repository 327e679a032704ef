using DistTrainer.Actors.Messages;
using DistTrainer.Actors.Worker;
using DistTrainer.Numerics.Data;

namespace DistTrainer.Actors.Cluster;

/// <summary>
/// A worker node's training data, read on its own machine (the CLI reads <c>--data</c>). The node reads the split once
/// to describe it (<see cref="Description"/>, checked by the coordinator), and again for each shard the coordinator
/// assigns: it keeps only the shard's rows and drops the rest. Data that changed on disk since the node joined is
/// refused, so a worker never trains on rows that differ from the job's.
/// </summary>
public sealed class ReloadingTrainingData : ITrainingData
{
    private readonly Func<Dataset> _read;
    private Dataset? _firstRead; // kept until the first shard is cut from it, to spare one read at start

    public ReloadingTrainingData(Func<Dataset> read)
    {
        ArgumentNullException.ThrowIfNull(read);
        _read = read;
        _firstRead = read();
        Description = DataFingerprint.Describe(_firstRead);
        FeatureCount = _firstRead.FeatureCount;
    }

    public DataDescription Description { get; }

    public int FeatureCount { get; }

    public TrainingShard LoadShard(IReadOnlyList<RowRange> ranges, int trainCount)
    {
        var split = Interlocked.Exchange(ref _firstRead, null);
        if (split is null)
        {
            split = _read();
            if (Description.Mismatch(DataFingerprint.Describe(split)) is { } mismatch)
            {
                throw new InvalidDataException($"the training data changed since this node joined: {mismatch}");
            }
        }
        return TrainingShard.Cut(split, ranges, trainCount);
    }
}
