using DistTrainer.Numerics.Data;
using DistTrainer.Numerics.Training;

namespace DistTrainer.Numerics.Tests;

/// <summary>The digits fixed split (embedded copy), min-max scaled to [0, 1] on the training split, loaded once.</summary>
internal static class TestData
{
    private static readonly Lazy<(Dataset Train, Dataset Test)> _digits = new(() =>
    {
        var loaded = DatasetCatalog.Load("digits");
        return RbmPipeline.ScaleToUnitInterval(loaded.Train, loaded.Test);
    });

    public static (Dataset Train, Dataset Test) DigitsUnitScaled => _digits.Value;
}
