using System.Globalization;
using DistTrainer.Numerics.Data;
using DistTrainer.Numerics.Models;
using DistTrainer.Numerics.Training;
using MessagePack;

namespace DistTrainer.Cli.ModelFiles;

/// <summary>
/// The MessagePack payload of a model file. Enums travel as lower-case names so a reordered enum cannot
/// silently change a saved model's meaning.
/// </summary>
[MessagePackObject]
public sealed class ModelContent
{
    [Key(0)] public string Kind { get; set; } = "";
    [Key(1)] public int Inputs { get; set; }
    [Key(2)] public int[] Hidden { get; set; } = [];
    [Key(3)] public int Outputs { get; set; }
    [Key(4)] public string Activation { get; set; } = "";
    [Key(5)] public string Task { get; set; } = "";
    [Key(6)] public string DatasetName { get; set; } = "";
    [Key(7)] public string[] FeatureNames { get; set; } = [];
    [Key(8)] public string LabelName { get; set; } = "";
    /// <summary>Class index i predicts ClassNames[i]; empty for regression.</summary>
    [Key(9)] public string[] ClassNames { get; set; } = [];
    [Key(10)] public float[] FeatureMean { get; set; } = [];
    [Key(11)] public float[] FeatureScale { get; set; } = [];
    [Key(12)] public float TargetMean { get; set; }
    [Key(13)] public float TargetScale { get; set; } = 1f;
    [Key(14)] public float[] Weights { get; set; } = [];
}

/// <summary>
/// A trained MLP with everything prediction needs: the spec, the training split's standardization, the target
/// scaling, the feature and label names, the class names and the weights.
/// </summary>
public sealed class TrainedModel
{
    private TrainedModel(Mlp model, float[] weights, Standardizer standardizer, TargetScaling targetScaling,
        string datasetName, string[] featureNames, string labelName, string[] classNames)
    {
        Model = model;
        Weights = weights;
        Standardizer = standardizer;
        TargetScaling = targetScaling;
        DatasetName = datasetName;
        FeatureNames = featureNames;
        LabelName = labelName;
        ClassNames = classNames;
    }

    public Mlp Model { get; }
    public ModelSpec Spec => Model.Spec;
    public float[] Weights { get; }
    public Standardizer Standardizer { get; }
    public TargetScaling TargetScaling { get; }
    public string DatasetName { get; }
    public string[] FeatureNames { get; }
    public string LabelName { get; }
    public string[] ClassNames { get; }
    public TaskKind Task => Spec.Task;

    /// <summary>Captures a model as trained on <paramref name="data"/>; the weights are copied.</summary>
    public static TrainedModel FromTraining(PreparedData data, Mlp model, ReadOnlySpan<float> weights)
    {
        // Class labels are the indices 0..K-1 of the label column, so the index's text is the class name.
        var classNames = data.Train.Task == TaskKind.Classification
            ? Enumerable.Range(0, data.Train.ClassCount).Select(i => i.ToString(CultureInfo.InvariantCulture)).ToArray()
            : [];
        return new TrainedModel(model, weights.ToArray(), data.Standardizer, data.TargetScaling, data.Name,
            data.Train.FeatureNames, data.Train.LabelName, classNames);
    }

    public ModelContent ToContent() => new()
    {
        Kind = Spec.Kind.ToString().ToLowerInvariant(),
        Inputs = Spec.Inputs,
        Hidden = Spec.Hidden,
        Outputs = Spec.Outputs,
        Activation = Spec.Activation.ToString().ToLowerInvariant(),
        Task = Spec.Task.ToString().ToLowerInvariant(),
        DatasetName = DatasetName,
        FeatureNames = FeatureNames,
        LabelName = LabelName,
        ClassNames = ClassNames,
        FeatureMean = Standardizer.Mean,
        FeatureScale = Standardizer.Scale,
        TargetMean = TargetScaling.Mean,
        TargetScale = TargetScaling.Scale,
        Weights = Weights,
    };

    /// <summary>Rebuilds a model from a decoded payload, checking every length so a bad file fails here, not mid-prediction.</summary>
    public static TrainedModel FromContent(ModelContent c, string source)
    {
        ModelFileException Bad(string problem) => new($"{source}: corrupt model: {problem}");
        if (!string.Equals(c.Kind, "mlp", StringComparison.Ordinal))
        {
            throw Bad($"model kind \"{c.Kind}\" is not supported (expected mlp)");
        }
        if (!Enum.TryParse<Activation>(c.Activation, ignoreCase: true, out var activation) || !Enum.IsDefined(activation))
        {
            throw Bad($"unknown activation \"{c.Activation}\"");
        }
        if (!Enum.TryParse<TaskKind>(c.Task, ignoreCase: true, out var task) || !Enum.IsDefined(task))
        {
            throw Bad($"unknown task \"{c.Task}\"");
        }
        if (c.Hidden is null || c.FeatureNames is null || c.ClassNames is null || c.FeatureMean is null || c.FeatureScale is null || c.Weights is null
            || c.LabelName is null || c.DatasetName is null)
        {
            throw Bad("a required field is missing");
        }
        Mlp model;
        try
        {
            model = new Mlp(Mlp.CreateSpec(c.Inputs, c.Hidden, c.Outputs, activation, task));
        }
        catch (ArgumentException e)
        {
            throw Bad(e.Message);
        }
        if (c.Weights.Length != model.ParameterCount)
        {
            throw Bad($"{c.Weights.Length} weights, the spec {model.Spec} needs {model.ParameterCount}");
        }
        if (c.FeatureNames.Length != c.Inputs || c.FeatureMean.Length != c.Inputs || c.FeatureScale.Length != c.Inputs)
        {
            throw Bad($"the model has {c.Inputs} inputs but {c.FeatureNames.Length} feature names and {c.FeatureMean.Length}/{c.FeatureScale.Length} standardization values");
        }
        if (task == TaskKind.Classification && c.ClassNames.Length != c.Outputs)
        {
            throw Bad($"{c.Outputs} outputs but {c.ClassNames.Length} class names");
        }
        if (!float.IsFinite(c.TargetMean) || !(c.TargetScale > 0) || !float.IsFinite(c.TargetScale))
        {
            throw Bad("invalid target scaling");
        }
        Standardizer standardizer;
        try
        {
            standardizer = new Standardizer(c.FeatureMean, c.FeatureScale);
        }
        catch (ArgumentException e)
        {
            throw Bad(e.Message);
        }
        return new TrainedModel(model, c.Weights, standardizer, new TargetScaling(c.TargetMean, c.TargetScale),
            c.DatasetName, c.FeatureNames, c.LabelName, c.ClassNames);
    }

    public byte[] ToBytes() => DtmContainer.Encode(DtmContentKind.Model, ToContent());

    public static TrainedModel FromBytes(ReadOnlySpan<byte> bytes, string source) =>
        FromContent(DtmContainer.Decode<ModelContent>(bytes, DtmContentKind.Model, source), source);

    public void Save(string path) => Run.AtomicFile.Write(path, ToBytes());

    public static TrainedModel Load(string path) => FromContent(DtmContainer.Read<ModelContent>(path, DtmContentKind.Model), path);

    /// <summary>
    /// Model outputs for raw (unstandardized) feature rows, row-major count × inputs: class probabilities
    /// (count × classes) or predicted values in the target's own units (count).
    /// </summary>
    public float[] Predict(ReadOnlySpan<float> rawFeatures, int count, int threads = 1)
    {
        const int Chunk = 256;
        var inputs = Spec.Inputs;
        var outputs = Spec.Outputs;
        var result = new float[count * outputs];
        var workspace = Model.CreateWorkspace(Math.Max(1, Math.Min(Chunk, count)), threads);
        var scaled = new float[Math.Min(Chunk, Math.Max(1, count)) * inputs];
        for (var start = 0; start < count; start += Chunk)
        {
            var n = Math.Min(Chunk, count - start);
            for (var r = 0; r < n; r++)
            {
                Standardizer.Transform(rawFeatures.Slice((start + r) * inputs, inputs), scaled.AsSpan(r * inputs, inputs));
            }
            Model.Predict(Weights, scaled.AsSpan(0, n * inputs), n, workspace).CopyTo(result.AsSpan(start * outputs, n * outputs));
        }
        if (Task == TaskKind.Regression)
        {
            for (var i = 0; i < result.Length; i++)
            {
                result[i] = TargetScaling.Invert(result[i]);
            }
        }
        return result;
    }
}
