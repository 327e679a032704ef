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
    /// <summary>
    /// Kind "rbm" only: the softmax classifier (H → classes) fitted on the hidden-unit probabilities, empty when the
    /// training data had no class labels. For an RBM, <see cref="Weights"/> are the RBM's, <see cref="Outputs"/> the
    /// classifier's class count, and <see cref="FeatureMean"/>/<see cref="FeatureScale"/> the min-max scaling
    /// (minimum and range per column) fitted on the training split. Files without this key read as empty.
    /// </summary>
    [Key(15)] public float[] ClassifierWeights { get; set; } = [];
}

/// <summary>An RBM used as a feature extractor: its model and weights (flat layout of <see cref="Numerics.Models.Rbm"/>).</summary>
public sealed record RbmFeatures(Rbm Model, float[] Weights);

/// <summary>
/// A trained model with everything prediction needs: the spec, the training split's input scaling, the target
/// scaling, the feature and label names, the class names and the weights.
/// <para>An MLP: <see cref="Model"/> is the network, scaled by a <see cref="Standardizer"/>. An RBM: <see cref="Rbm"/>
/// holds the machine, inputs are min-max scaled to [0, 1], and <see cref="Model"/> is the softmax classifier on its
/// hidden-unit probabilities, or null when the training data had no class labels (such a file cannot predict).</para>
/// </summary>
public sealed class TrainedModel
{
    private TrainedModel(ModelSpec spec, Mlp? model, float[] weights, IFeatureScaler scaler, TargetScaling targetScaling,
        string datasetName, string[] featureNames, string labelName, string[] classNames, RbmFeatures? rbm)
    {
        Spec = spec;
        Model = model;
        Weights = weights;
        Scaler = scaler;
        TargetScaling = targetScaling;
        DatasetName = datasetName;
        FeatureNames = featureNames;
        LabelName = labelName;
        ClassNames = classNames;
        Rbm = rbm;
    }

    /// <summary>The network that produces outputs: the MLP, or an RBM's classifier (null for an RBM without one).</summary>
    public Mlp? Model { get; }

    /// <summary>The model's own spec: the MLP's, or the RBM's (not its classifier's).</summary>
    public ModelSpec Spec { get; }

    /// <summary>Weights of <see cref="Model"/> (empty when there is none).</summary>
    public float[] Weights { get; }

    /// <summary>The input scaling fitted on the training split: a <see cref="Numerics.Data.Standardizer"/> (MLP) or a <see cref="MinMaxScaler"/> (RBM).</summary>
    public IFeatureScaler Scaler { get; }

    public Standardizer Standardizer => Scaler as Standardizer ?? throw new InvalidOperationException("an RBM model scales its inputs by min-max, not standardization");

    public TargetScaling TargetScaling { get; }
    public string DatasetName { get; }
    public string[] FeatureNames { get; }
    public string LabelName { get; }
    public string[] ClassNames { get; }

    /// <summary>The RBM of an RBM model file, null for an MLP.</summary>
    public RbmFeatures? Rbm { get; }

    public TaskKind Task => Spec.Kind == ModelKind.Rbm ? (Model is null ? TaskKind.Regression : TaskKind.Classification) : Spec.Task;

    /// <summary>Classes of a classifier, 0 for regression or an RBM without a classifier.</summary>
    public int ClassCount => Model is { Spec.Task: TaskKind.Classification } m ? m.Spec.Outputs : 0;

    /// <summary>Captures a model as trained on <paramref name="data"/>; the weights are copied.</summary>
    public static TrainedModel FromTraining(PreparedData data, Mlp model, ReadOnlySpan<float> weights)
    {
        var classNames = data.Train.Task == TaskKind.Classification ? ClassNamesOf(data.Train) : [];
        return new TrainedModel(model.Spec, model, weights.ToArray(), data.Standardizer, data.TargetScaling, data.Name,
            data.Train.FeatureNames, data.Train.LabelName, classNames, null);
    }

    /// <summary>
    /// Captures an RBM trained on <paramref name="scaledTrain"/> (already min-max scaled by <paramref name="scaler"/>) and,
    /// for labeled data, its classifier. All weights are copied.
    /// </summary>
    public static TrainedModel FromRbm(string datasetName, Dataset scaledTrain, MinMaxScaler scaler, Rbm rbm, ReadOnlySpan<float> rbmWeights,
        Mlp? classifier, ReadOnlySpan<float> classifierWeights)
    {
        var classNames = classifier is null ? [] : ClassNamesOf(scaledTrain);
        return new TrainedModel(rbm.Spec, classifier, classifierWeights.ToArray(), scaler, TargetScaling.Identity, datasetName,
            scaledTrain.FeatureNames, scaledTrain.LabelName, classNames, new RbmFeatures(rbm, rbmWeights.ToArray()));
    }

    // Class labels are the indices 0..K-1 of the label column, so the index's text is the class name.
    private static string[] ClassNamesOf(Dataset train) =>
        Enumerable.Range(0, train.ClassCount).Select(i => i.ToString(CultureInfo.InvariantCulture)).ToArray();

    public ModelContent ToContent()
    {
        var (offset, scale) = Scaler switch
        {
            Standardizer s => (s.Mean, s.Scale),
            MinMaxScaler m => (m.Min, m.Scale),
            _ => throw new InvalidOperationException($"unknown input scaling {Scaler.GetType().Name}"),
        };
        return new()
        {
            Kind = Spec.Kind.ToString().ToLowerInvariant(),
            Inputs = Spec.Inputs,
            Hidden = Spec.Hidden,
            Outputs = Rbm is null ? Spec.Outputs : ClassCount,
            Activation = Spec.Activation.ToString().ToLowerInvariant(),
            Task = Task.ToString().ToLowerInvariant(),
            DatasetName = DatasetName,
            FeatureNames = FeatureNames,
            LabelName = LabelName,
            ClassNames = ClassNames,
            FeatureMean = offset,
            FeatureScale = scale,
            TargetMean = TargetScaling.Mean,
            TargetScale = TargetScaling.Scale,
            Weights = Rbm?.Weights ?? Weights,
            ClassifierWeights = Rbm is null ? [] : Weights,
        };
    }

    /// <summary>Rebuilds a model from a decoded payload, checking every length so a bad file fails here, not mid-prediction.</summary>
    public static TrainedModel FromContent(ModelContent c, string source)
    {
        ModelFileException Bad(string problem) => new($"{source}: corrupt model: {problem}");
        var isRbm = string.Equals(c.Kind, "rbm", StringComparison.Ordinal);
        if (!isRbm && !string.Equals(c.Kind, "mlp", StringComparison.Ordinal))
        {
            throw Bad($"model kind \"{c.Kind}\" is not supported (expected mlp or rbm)");
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
            || c.LabelName is null || c.DatasetName is null || c.ClassifierWeights is null)
        {
            throw Bad("a required field is missing");
        }
        if (c.FeatureNames.Length != c.Inputs || c.FeatureMean.Length != c.Inputs || c.FeatureScale.Length != c.Inputs)
        {
            throw Bad($"the model has {c.Inputs} inputs but {c.FeatureNames.Length} feature names and {c.FeatureMean.Length}/{c.FeatureScale.Length} scaling values");
        }
        if (!float.IsFinite(c.TargetMean) || !(c.TargetScale > 0) || !float.IsFinite(c.TargetScale))
        {
            throw Bad("invalid target scaling");
        }
        try
        {
            if (isRbm)
            {
                return FromRbmContent(c, source);
            }
            var model = new Mlp(Mlp.CreateSpec(c.Inputs, c.Hidden, c.Outputs, activation, task));
            if (c.Weights.Length != model.ParameterCount)
            {
                throw Bad($"{c.Weights.Length} weights, the spec {model.Spec} needs {model.ParameterCount}");
            }
            if (task == TaskKind.Classification && c.ClassNames.Length != c.Outputs)
            {
                throw Bad($"{c.Outputs} outputs but {c.ClassNames.Length} class names");
            }
            return new TrainedModel(model.Spec, model, c.Weights, new Standardizer(c.FeatureMean, c.FeatureScale), new TargetScaling(c.TargetMean, c.TargetScale),
                c.DatasetName, c.FeatureNames, c.LabelName, c.ClassNames, null);
        }
        catch (ArgumentException e)
        {
            throw Bad(e.Message);
        }
    }

    private static TrainedModel FromRbmContent(ModelContent c, string source)
    {
        ModelFileException Bad(string problem) => new($"{source}: corrupt model: {problem}");
        if (c.Hidden.Length != 1)
        {
            throw Bad($"an RBM has one hidden layer, the file lists {c.Hidden.Length}");
        }
        var rbm = new Rbm(Numerics.Models.Rbm.CreateSpec(c.Inputs, c.Hidden[0]));
        if (c.Weights.Length != rbm.ParameterCount)
        {
            throw Bad($"{c.Weights.Length} weights, the spec {rbm.Spec} needs {rbm.ParameterCount}");
        }
        Mlp? classifier = null;
        if (c.ClassifierWeights.Length > 0)
        {
            classifier = new Mlp(Mlp.CreateSpec(rbm.Hidden, [], c.Outputs, Activation.Sigmoid, TaskKind.Classification));
            if (c.ClassifierWeights.Length != classifier.ParameterCount)
            {
                throw Bad($"{c.ClassifierWeights.Length} classifier weights, softmax {rbm.Hidden}→{c.Outputs} needs {classifier.ParameterCount}");
            }
            if (c.ClassNames.Length != c.Outputs)
            {
                throw Bad($"{c.Outputs} classes but {c.ClassNames.Length} class names");
            }
        }
        return new TrainedModel(rbm.Spec, classifier, c.ClassifierWeights, new MinMaxScaler(c.FeatureMean, c.FeatureScale), TargetScaling.Identity,
            c.DatasetName, c.FeatureNames, c.LabelName, c.ClassNames, new RbmFeatures(rbm, c.Weights));
    }

    public byte[] ToBytes() => DtmContainer.Encode(DtmContentKind.Model, ToContent());

    public static TrainedModel FromBytes(ReadOnlySpan<byte> bytes, string source) =>
        FromContent(DtmContainer.Decode<ModelContent>(bytes, DtmContentKind.Model, source), source);

    public void Save(string path) => Run.AtomicFile.Write(path, ToBytes());

    public static TrainedModel Load(string path) => FromContent(DtmContainer.Read<ModelContent>(path, DtmContentKind.Model), path);

    /// <summary>
    /// Model outputs for raw (unscaled) feature rows, row-major count × inputs: class probabilities
    /// (count × classes) or predicted values in the target's own units (count). An RBM classifies its hidden-unit
    /// probabilities; an RBM without a classifier cannot predict.
    /// </summary>
    public float[] Predict(ReadOnlySpan<float> rawFeatures, int count, int threads = 1)
    {
        const int Chunk = 256;
        var model = Model ?? throw new InvalidOperationException("this RBM has no classifier");
        var inputs = Spec.Inputs;
        var outputs = model.Spec.Outputs;
        var rows = Math.Max(1, Math.Min(Chunk, count));
        var result = new float[count * outputs];
        var workspace = model.CreateWorkspace(rows, threads);
        var scaled = new float[rows * inputs];
        var hidden = Rbm is null ? [] : new float[rows * Rbm.Model.Hidden];
        for (var start = 0; start < count; start += Chunk)
        {
            var n = Math.Min(Chunk, count - start);
            for (var r = 0; r < n; r++)
            {
                Scaler.Transform(rawFeatures.Slice((start + r) * inputs, inputs), scaled.AsSpan(r * inputs, inputs));
            }
            ReadOnlySpan<float> input = scaled.AsSpan(0, n * inputs);
            if (Rbm is { } rbm)
            {
                rbm.Model.HiddenProbabilities(rbm.Weights, input, n, hidden, threads);
                input = hidden.AsSpan(0, n * rbm.Model.Hidden);
            }
            model.Predict(Weights, input, n, workspace).CopyTo(result.AsSpan(start * outputs, n * outputs));
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
