using System.Globalization;
using System.Text;
using DistTrainer.Cli.ModelFiles;
using DistTrainer.Numerics.Data;

namespace DistTrainer.Cli.Commands;

/// <summary>
/// Matches a table's columns to a model's features by header name, so the column order may differ from training.
/// A missing feature or an unknown column is a one-line error naming it; the model's label column is allowed and ignored.
/// </summary>
public static class ModelInput
{
    /// <summary>For each model feature, the index of the column that holds it.</summary>
    public static int[] MatchColumns(TrainedModel model, IReadOnlyList<string> columns, string source, bool allowLabel)
    {
        var positions = new Dictionary<string, int>(StringComparer.Ordinal);
        for (var c = 0; c < columns.Count; c++)
        {
            if (allowLabel && columns[c] == model.LabelName)
            {
                continue;
            }
            if (Array.IndexOf(model.FeatureNames, columns[c]) < 0)
            {
                throw new DataFormatException(
                    $"{source}: column \"{columns[c]}\" is not a feature of the model; expected the columns {Describe(model)}");
            }
            positions[columns[c]] = c;
        }
        var map = new int[model.FeatureNames.Length];
        for (var f = 0; f < map.Length; f++)
        {
            if (!positions.TryGetValue(model.FeatureNames[f], out map[f]))
            {
                throw new DataFormatException($"{source}: missing feature column \"{model.FeatureNames[f]}\"; expected the columns {Describe(model)}");
            }
        }
        return map;
    }

    /// <summary>A dataset's rows with the features in the model's order, scaled with the training statistics.</summary>
    public static Dataset Prepare(TrainedModel model, Dataset data)
    {
        var map = MatchColumns(model, data.FeatureNames, data.Name, allowLabel: false);
        var inputs = map.Length;
        var features = new float[data.Count * inputs];
        for (var r = 0; r < data.Count; r++)
        {
            var row = data.Row(r);
            for (var f = 0; f < inputs; f++)
            {
                features[r * inputs + f] = row[map[f]];
            }
        }
        var targets = data.Targets;
        if (model.Task == TaskKind.Classification)
        {
            var bad = Array.FindIndex(targets, t => t >= model.ClassCount);
            if (bad >= 0)
            {
                throw new DataFormatException(
                    $"{data.Name}: label {targets[bad].ToString(CultureInfo.InvariantCulture)} is not one of the model's {model.ClassCount} classes");
            }
        }
        else
        {
            targets = model.TargetScaling.Apply(targets);
        }
        var ordered = new Dataset(data.Name, model.FeatureNames, model.LabelName, model.Task, model.ClassCount, features, targets);
        return model.Scaler.Apply(ordered);
    }

    /// <summary>Reads a numeric CSV of feature rows (header first) into model-ordered raw rows.</summary>
    public static float[] ReadRows(TrainedModel model, string path, out int count)
    {
        if (!File.Exists(path))
        {
            throw new DataFormatException($"{path}: no such file");
        }
        using var reader = new StreamReader(path, Encoding.UTF8, detectEncodingFromByteOrderMarks: true);
        var header = reader.ReadLine();
        if (string.IsNullOrWhiteSpace(header))
        {
            throw new DataFormatException($"{path}:1: expected a header line of column names");
        }
        var columns = header.Split(',').Select(c => c.Trim()).ToArray();
        var map = MatchColumns(model, columns, path, allowLabel: true);
        var inputs = map.Length;
        var rows = new List<float>();
        count = 0;
        var lineNumber = 1;
        while (reader.ReadLine() is { } line)
        {
            lineNumber++;
            if (string.IsNullOrWhiteSpace(line))
            {
                continue;
            }
            var fields = line.Split(',');
            if (fields.Length != columns.Length)
            {
                throw new DataFormatException($"{path}:{lineNumber}: expected {columns.Length} fields like the header, found {fields.Length}");
            }
            for (var f = 0; f < inputs; f++)
            {
                var c = map[f];
                if (!float.TryParse(fields[c], NumberStyles.Float, CultureInfo.InvariantCulture, out var value) || !float.IsFinite(value))
                {
                    throw new DataFormatException($"{path}:{lineNumber}: column {c + 1} ({columns[c]}): expected a number, found \"{fields[c].Trim()}\"");
                }
                rows.Add(value);
            }
            count++;
        }
        return [.. rows];
    }

    private static string Describe(TrainedModel model)
    {
        const int Listed = 12;
        var names = string.Join(", ", model.FeatureNames.Take(Listed));
        if (model.FeatureNames.Length > Listed)
        {
            names += $", ... ({model.FeatureNames.Length} features)";
        }
        return $"{names} (and optionally the label {model.LabelName})";
    }
}
