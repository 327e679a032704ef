using DistTrainer.Numerics.Data;

namespace DistTrainer.Numerics.Training;

/// <summary>
/// A train/test pair ready for an MLP: features standardized with statistics of the training split only, and for
/// regression the targets standardized too (metrics convert back to the original units).
/// </summary>
public sealed record PreparedData(string Name, Dataset Train, Dataset Test, Standardizer Standardizer, TargetScaling TargetScaling)
{
    public static PreparedData Standardize(string name, Dataset train, Dataset test)
    {
        var standardizer = Standardizer.Fit(train);
        var scaling = train.Task == TaskKind.Regression ? TargetScaling.Fit(train.Targets) : TargetScaling.Identity;
        return new PreparedData(name, ScaleTargets(standardizer.Apply(train), scaling), ScaleTargets(standardizer.Apply(test), scaling), standardizer, scaling);
    }

    /// <summary>Outputs of the model: the class count for classification, one value for regression.</summary>
    public int Outputs => Train.Task == TaskKind.Classification ? Train.ClassCount : 1;

    private static Dataset ScaleTargets(Dataset data, TargetScaling scaling) =>
        data.Task == TaskKind.Regression
            ? new Dataset(data.Name, data.FeatureNames, data.LabelName, data.Task, 0, data.Features, scaling.Apply(data.Targets))
            : data;
}
