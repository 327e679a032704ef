using System.Globalization;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using DistTrainer.Cli.Run;

namespace DistTrainer.Cli.Tests;

/// <summary>
/// Progress when the output is not a terminal: the "step" and "epoch" lines the README documents, metrics.csv step rows
/// with the window's accuracy, and what --json and --quiet do with them. Real processes, with redirected output.
/// </summary>
public sealed partial class ProgressOutputTests : IDisposable
{
    private readonly TempFolder _folder = new();

    public void Dispose() => _folder.Dispose();

    /// <summary>The step line's documented shape (README, "Progress output").</summary>
    [GeneratedRegex(@"^step (?<step>\d+)/(?<total>\d+)  epoch (?<epoch>\d+)/\d+  loss \d+\.\d{4}  (?:acc (?<acc>\d\.\d{4})|rmse \d+\.\d{3})  samples/s \d+  eta (?:\d+:)?\d+:\d\d(?<workers>(?:  workers)(?: w\d+:\d+:\d+\.\dms:\d+\.\ds(?::lost)?)+)?$")]
    private static partial Regex StepLine();

    [Fact]
    public async Task Simulation_with_redirected_output_should_print_a_step_line_with_workers_every_log_every_steps()
    {
        var dir = Path.Combine(_folder.Path, "run");
        var result = await DistTrainerProcess.RunAsync("train", "--workers", "2", "--epochs", "2", "--hidden", "16", "--log-every", "10", "--out", dir);

        Assert.True(result.ExitCode == 0, result.ToString());
        var steps = result.StandardOutputLines.Where(l => l.StartsWith("step ", StringComparison.Ordinal)).ToList();
        // digits: 1442 training rows in batches of 32 are 46 steps per epoch, so steps 10, 20, ..., 90 of 92.
        Assert.Equal(Enumerable.Range(1, 9).Select(i => i * 10), steps.Select(l => StepOf(l)));
        foreach (var line in steps)
        {
            var match = StepLine().Match(line);
            Assert.True(match.Success, $"not a documented step line: \"{line}\"");
            Assert.Equal("92", match.Groups["total"].Value);
            Assert.Matches(@"^  workers w0:\d+:[\d.]+ms:[\d.]+s w1:\d+:[\d.]+ms:[\d.]+s$", match.Groups["workers"].Value);
        }
        Assert.Equal(2, result.StandardOutputLines.Count(l => Regex.IsMatch(l, @"^epoch [12]/2  loss \d\.\d{4}  ")));

        var rows = StepRows(dir);
        Assert.Equal(Enumerable.Range(1, 9).Select(i => (long)i * 10), rows.Select(r => r.Step));
        Assert.All(rows, r => Assert.InRange(r.Accuracy!.Value, 0, 1));
        // The last window (steps 81-90) of a digits MLP learning with Adam is well above chance.
        Assert.True(rows[^1].Accuracy > 0.5, $"accuracy of the last window {rows[^1].Accuracy}");
        // The printed step lines are the metrics rows.
        Assert.Equal(rows.Select(r => r.Accuracy!.Value.ToString("F4", CultureInfo.InvariantCulture)), steps.Select(l => StepLine().Match(l).Groups["acc"].Value));
    }

    [Fact]
    public async Task Single_process_training_should_print_the_same_step_lines_without_workers()
    {
        var dir = Path.Combine(_folder.Path, "run");
        var result = await DistTrainerProcess.RunAsync("train", "--workers", "0", "--epochs", "1", "--hidden", "16", "--log-every", "20", "--out", dir);

        Assert.True(result.ExitCode == 0, result.ToString());
        var steps = result.StandardOutputLines.Where(l => l.StartsWith("step ", StringComparison.Ordinal)).ToList();
        Assert.Equal([20, 40], steps.Select(StepOf));
        Assert.All(steps, l => Assert.True(StepLine().Match(l) is { Success: true } m && !m.Groups["workers"].Success, l));
        Assert.All(StepRows(dir), r => Assert.InRange(r.Accuracy!.Value, 0, 1));
    }

    [Fact]
    public async Task Json_should_move_step_lines_to_stderr_and_quiet_should_silence_them()
    {
        var json = await DistTrainerProcess.RunAsync("train", "--workers", "2", "--epochs", "1", "--hidden", "16", "--log-every", "10",
            "--out", Path.Combine(_folder.Path, "json"), "--json");
        var quiet = await DistTrainerProcess.RunAsync("train", "--workers", "2", "--epochs", "1", "--hidden", "16", "--log-every", "10",
            "--out", Path.Combine(_folder.Path, "quiet"), "--json", "--quiet");

        Assert.True(json.ExitCode == 0, json.ToString());
        Assert.Single(json.StandardOutputLines);
        Assert.IsType<JsonObject>(JsonNode.Parse(json.StandardOutputLines[0]));
        Assert.Equal(4, json.StandardErrorLines.Count(l => StepLine().IsMatch(l)));

        Assert.True(quiet.ExitCode == 0, quiet.ToString());
        Assert.Single(quiet.StandardOutputLines);
        Assert.DoesNotContain(quiet.StandardErrorLines, l => l.StartsWith("step ", StringComparison.Ordinal) || l.StartsWith("epoch ", StringComparison.Ordinal));
        Assert.Equal(4, StepRows(Path.Combine(_folder.Path, "quiet")).Count); // quiet silences the terminal, not the run folder
    }

    [Fact]
    public async Task Regression_step_rows_should_carry_the_windows_rmse_and_no_accuracy()
    {
        var dir = Path.Combine(_folder.Path, "run");
        var result = await DistTrainerProcess.RunAsync("train", "--data", "diabetes", "--workers", "2", "--epochs", "2", "--log-every", "5", "--out", dir);

        Assert.True(result.ExitCode == 0, result.ToString());
        var rows = StepRows(dir);
        Assert.NotEmpty(rows);
        Assert.All(rows, r => Assert.Null(r.Accuracy));
        Assert.All(rows, r => Assert.True(r.Rmse > 0, $"rmse {r.Rmse}"));
        Assert.Contains(result.StandardOutputLines, l => StepLine().IsMatch(l) && l.Contains("  rmse ", StringComparison.Ordinal));
    }

    [Fact]
    public void Step_line_should_have_the_documented_shape()
    {
        var now = new DateTimeOffset(2026, 1, 1, 12, 0, 0, TimeSpan.Zero);
        var row = new StepRow(3, 20, 150, 920, 0.41234, 0.875, null, 0.001, 12345.6, 4.2, TimeSpan.FromSeconds(72));
        WorkerStatus[] workers =
        [
            new("w0", 75, TimeSpan.FromMilliseconds(1.24), now.AddSeconds(-0.04)),
            new("w1", 74, TimeSpan.FromMilliseconds(3.5), now.AddSeconds(-2), WorkerStatus.Lost),
        ];

        var line = PlainProgressView.FormatStep(row, workers, now);

        Assert.Equal("step 150/920  epoch 3/20  loss 0.4123  acc 0.8750  samples/s 12346  eta 1:12  workers w0:75:1.2ms:0.0s w1:74:3.5ms:2.0s:lost", line);
        Assert.Matches(StepLine(), line);
    }

    private static int StepOf(string line) => int.Parse(line.Split(' ', 3)[1].Split('/')[0], CultureInfo.InvariantCulture);

    private static List<(long Step, double? Accuracy, double? Rmse)> StepRows(string dir)
    {
        var lines = File.ReadAllLines(Path.Combine(dir, MetricsCsv.FileName));
        Assert.Equal(MetricsCsv.Header, lines[0]);
        return lines.Skip(1).Where(l => l.StartsWith("step,", StringComparison.Ordinal)).Select(l =>
        {
            var f = l.Split(',');
            return (long.Parse(f[2], CultureInfo.InvariantCulture), Parse(f[4]), Parse(f[5]));
        }).ToList();
    }

    private static double? Parse(string field) => field.Length == 0 ? null : double.Parse(field, CultureInfo.InvariantCulture);
}
