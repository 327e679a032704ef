using System.Globalization;
using DistTrainer.Numerics.Data;

namespace DistTrainer.Numerics.Tests;

/// <summary>
/// The shared digits data for tests: read from shared/data (found by walking up from the test's base directory),
/// split by the fixed "every 5th of each class is test" rule and min-max scaled to [0, 1] on the training split.
/// Falls back to the copy embedded in DistTrainer.Numerics. A minimal stand-in until the data loaders are on main.
/// </summary>
internal static class TestData
{
    private static readonly Lazy<(Dataset Train, Dataset Test)> _digits = new(LoadDigits);

    public static (Dataset Train, Dataset Test) DigitsUnitScaled => _digits.Value;

    public static string? FindShared(string fileName)
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            var candidate = Path.Combine(dir.FullName, "shared", "data", fileName);
            if (File.Exists(candidate))
            {
                return candidate;
            }
        }
        return null;
    }

    private static (Dataset Train, Dataset Test) LoadDigits()
    {
        var path = FindShared("digits.csv");
        string[] lines;
        if (path is not null)
        {
            lines = File.ReadAllLines(path);
        }
        else
        {
            using var stream = typeof(Dataset).Assembly.GetManifestResourceStream("DistTrainer.Numerics.Data.digits.csv")
                ?? throw new FileNotFoundException("digits.csv is neither in shared/data nor embedded");
            using var reader = new StreamReader(stream);
            lines = reader.ReadToEnd().Split('\n');
        }
        var header = lines[0].Split(',');
        var featureCount = header.Length - 1;
        var rows = lines.Skip(1).Where(l => l.Length > 0).Select(l => l.Split(',').Select(x => float.Parse(x, CultureInfo.InvariantCulture)).ToArray()).ToArray();
        var perClass = new int[10];
        var train = new List<float[]>();
        var test = new List<float[]>();
        foreach (var row in rows)
        {
            var label = (int)row[^1];
            (perClass[label]++ % 5 == 4 ? test : train).Add(row);
        }
        var min = new float[featureCount];
        var max = new float[featureCount];
        Array.Fill(min, float.MaxValue);
        Array.Fill(max, float.MinValue);
        foreach (var row in train)
        {
            for (var c = 0; c < featureCount; c++)
            {
                min[c] = Math.Min(min[c], row[c]);
                max[c] = Math.Max(max[c], row[c]);
            }
        }
        Dataset Build(List<float[]> part, string name)
        {
            var features = new float[part.Count * featureCount];
            var targets = new float[part.Count];
            for (var r = 0; r < part.Count; r++)
            {
                for (var c = 0; c < featureCount; c++)
                {
                    var range = max[c] - min[c];
                    features[r * featureCount + c] = range > 0 ? Math.Clamp((part[r][c] - min[c]) / range, 0f, 1f) : 0f;
                }
                targets[r] = part[r][^1];
            }
            return new Dataset(name, header[..featureCount], header[^1], TaskKind.Classification, 10, features, targets);
        }
        return (Build(train, "digits-train"), Build(test, "digits-test"));
    }
}
