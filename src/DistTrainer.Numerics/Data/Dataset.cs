namespace DistTrainer.Numerics.Data;

/// <summary>What the label column means.</summary>
public enum TaskKind
{
    Classification,
    Regression,
}

/// <summary>
/// A table of samples held in memory: features row-major (Count × FeatureCount) and one target per row.
/// For classification a target is the class index 0..ClassCount-1 stored as a float, so one array serves both tasks.
/// </summary>
public sealed class Dataset
{
    public Dataset(string name, string[] featureNames, string labelName, TaskKind task, int classCount, float[] features, float[] targets)
    {
        if (featureNames.Length == 0)
        {
            throw new ArgumentException("A dataset needs at least one feature.", nameof(featureNames));
        }
        if (features.Length != targets.Length * featureNames.Length)
        {
            throw new ArgumentException($"features holds {features.Length} values, expected {targets.Length} rows × {featureNames.Length} columns.", nameof(features));
        }
        Name = name;
        FeatureNames = featureNames;
        LabelName = labelName;
        Task = task;
        ClassCount = task == TaskKind.Classification ? classCount : 0;
        Features = features;
        Targets = targets;
    }

    public string Name { get; }
    public string[] FeatureNames { get; }
    public string LabelName { get; }
    public TaskKind Task { get; }
    /// <summary>Number of classes for classification; 0 for regression.</summary>
    public int ClassCount { get; }
    public float[] Features { get; }
    public float[] Targets { get; }
    public int Count => Targets.Length;
    public int FeatureCount => FeatureNames.Length;

    public ReadOnlySpan<float> Row(int index) => Features.AsSpan(index * FeatureCount, FeatureCount);

    /// <summary>A new dataset holding the given rows, in the given order.</summary>
    public Dataset Select(IReadOnlyList<int> rows, string? name = null)
    {
        var features = new float[rows.Count * FeatureCount];
        var targets = new float[rows.Count];
        for (var i = 0; i < rows.Count; i++)
        {
            Row(rows[i]).CopyTo(features.AsSpan(i * FeatureCount, FeatureCount));
            targets[i] = Targets[rows[i]];
        }
        return new Dataset(name ?? Name, FeatureNames, LabelName, Task, ClassCount, features, targets);
    }

    public Dataset WithFeatures(float[] features) => new(Name, FeatureNames, LabelName, Task, ClassCount, features, Targets);
}

/// <summary>Bad input data. The message names the source, the line and the column, and says what was expected.</summary>
public sealed class DataFormatException : Exception
{
    public DataFormatException(string message) : base(message) { }
    public DataFormatException(string message, Exception inner) : base(message, inner) { }
    public DataFormatException() { }
}
