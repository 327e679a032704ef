using System.Globalization;
using DistTrainer.Cli.Commands;
using DistTrainer.Cli.ModelFiles;
using DistTrainer.Cli.Run;
using DistTrainer.Numerics.Data;
using DistTrainer.Numerics.Training;

namespace DistTrainer.Cli.Tests.RunFiles;

public sealed class EvaluatePredictTests : IDisposable
{
    private readonly TempFolder _folder = new();
    private readonly string _modelPath;
    private readonly TrainedModel _trained;

    public EvaluatePredictTests()
    {
        var dir = Path.Combine(_folder.Path, "run");
        Directory.CreateDirectory(dir);
        _trained = SmallRun.Train(dir).Model;
        _modelPath = Path.Combine(dir, TrainingRun.ModelFileName);
    }

    public void Dispose() => _folder.Dispose();

    [Fact]
    public void Evaluate_should_match_the_in_memory_model_on_the_test_split()
    {
        var expected = Evaluator.Evaluate(_trained.Model!, _trained.Weights, SmallRun.Data.Test, SmallRun.Data.TargetScaling);

        var (data, actual) = EvaluateCommand.Evaluate(TrainedModel.Load(_modelPath), "digits", "test");

        Assert.Equal(SmallRun.Data.Test.Count, data.Count);
        Assert.Equal(expected.Accuracy, actual.Accuracy);
        Assert.Equal(expected.Loss, actual.Loss, 12);
        Assert.Equal(expected.Confusion, actual.Confusion);
    }

    [Fact]
    public async Task Predict_should_match_the_in_memory_model_with_columns_reordered_and_a_label_column()
    {
        var raw = DatasetCatalog.Load("digits").Test;
        var path = WriteShuffledCsv(raw);
        var expected = _trained.Model!.Predict(_trained.Weights, SmallRun.Data.Test.Features, SmallRun.Data.Test.Count,
            _trained.Model!.CreateWorkspace(SmallRun.Data.Test.Count)).ToArray();

        var result = await DistTrainerProcess.RunAsync("predict", "--model", _modelPath, "--input", path);

        Assert.True(result.ExitCode == 0, result.ToString());
        var lines = result.StandardOutputLines;
        Assert.Equal($"{_trained.LabelName},probability", lines[0]);
        Assert.Equal(raw.Count + 1, lines.Length);
        var classes = _trained.Spec.Outputs;
        for (var r = 0; r < raw.Count; r++)
        {
            var fields = lines[r + 1].Split(',');
            var best = Evaluator.ArgMax(expected.AsSpan(r * classes, classes));
            Assert.Equal(best.ToString(CultureInfo.InvariantCulture), fields[0]);
            Assert.InRange(Math.Abs(expected[r * classes + best] - float.Parse(fields[1], CultureInfo.InvariantCulture)), 0f, 1e-6f); // printed with 6 decimals
        }
    }

    [Fact]
    public void Predict_input_missing_a_feature_column_should_name_it()
    {
        var raw = DatasetCatalog.Load("digits").Test;
        var header = string.Join(',', raw.FeatureNames.Skip(1));
        var path = _folder.Write("missing.csv", header + "\n" + string.Join(',', Enumerable.Repeat("0", raw.FeatureCount - 1)) + "\n");

        var e = Assert.Throws<DataFormatException>(() => ModelInput.ReadRows(_trained, path, out _));
        Assert.StartsWith($"{path}: missing feature column \"{raw.FeatureNames[0]}\"", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Predict_input_with_an_unknown_column_should_name_it()
    {
        var raw = DatasetCatalog.Load("digits").Test;
        var header = string.Join(',', raw.FeatureNames.Append("colour"));
        var path = _folder.Write("extra.csv", header + "\n" + string.Join(',', Enumerable.Repeat("0", raw.FeatureCount + 1)) + "\n");

        var e = Assert.Throws<DataFormatException>(() => ModelInput.ReadRows(_trained, path, out _));
        Assert.StartsWith($"{path}: column \"colour\" is not a feature of the model", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Evaluate_json_should_report_the_same_accuracy_as_train()
    {
        var expected = Evaluator.Evaluate(_trained.Model!, _trained.Weights, SmallRun.Data.Test, SmallRun.Data.TargetScaling);

        var result = await DistTrainerProcess.RunAsync("evaluate", "--model", _modelPath, "--data", "digits", "--json");

        Assert.True(result.ExitCode == 0, result.ToString());
        var json = System.Text.Json.Nodes.JsonNode.Parse(result.StandardOutputLines[^1])!;
        Assert.Equal(Math.Round(expected.Accuracy!.Value, 6), json["accuracy"]!.GetValue<double>());
        Assert.Equal(SmallRun.Data.Test.Count, json["samples"]!.GetValue<int>());
    }

    /// <summary>The raw rows as CSV with the label first and the feature columns reversed.</summary>
    private string WriteShuffledCsv(Dataset raw)
    {
        var columns = raw.FeatureNames.Reverse().ToArray();
        var lines = new List<string> { raw.LabelName + "," + string.Join(',', columns) };
        for (var r = 0; r < raw.Count; r++)
        {
            var row = raw.Row(r).ToArray();
            var values = columns.Select(c => row[Array.IndexOf(raw.FeatureNames, c)].ToString("R", CultureInfo.InvariantCulture));
            lines.Add(raw.Targets[r].ToString(CultureInfo.InvariantCulture) + "," + string.Join(',', values));
        }
        return _folder.Write("input.csv", string.Join('\n', lines) + "\n");
    }
}
