using System.Text.Json.Nodes;

namespace DistTrainer.Cli.Tests;

public class TrainCommandTests
{
    private static readonly string[] _requiredKeys =
    [
        "dataset", "model", "epochs", "train_samples", "test_samples", "final_train_loss", "test_accuracy",
        "samples_per_second", "wall_seconds",
    ];

    private static readonly string[] _timingKeys = ["samples_per_second", "train_seconds", "wall_seconds"];

    [Fact]
    public async Task Train_with_json_should_print_a_summary_object_with_the_required_keys_as_the_last_line()
    {
        var result = await DistTrainerProcess.RunAsync("train", "--epochs", "2", "--json");

        Assert.True(result.ExitCode == 0, result.ToString());
        var summary = ParseLastLine(result);
        foreach (var key in _requiredKeys)
        {
            Assert.True(summary.ContainsKey(key), $"missing \"{key}\" in {summary.ToJsonString()}");
        }
        Assert.Equal("digits", (string?)summary["dataset"]);
        Assert.Equal(2, (int?)summary["epochs"]);
        Assert.Equal(1797, (int)summary["train_samples"]! + (int)summary["test_samples"]!);
        var accuracy = (double)summary["test_accuracy"]!;
        Assert.InRange(accuracy, 0.5, 1.0);
        Assert.True((double)summary["final_train_loss"]! > 0);
        Assert.True((double)summary["samples_per_second"]! > 0);
        Assert.True((double)summary["wall_seconds"]! > 0);
        Assert.Equal(2, (int?)summary["workers"]); // the default: the actor protocol with two workers
        Assert.Equal("sync", (string?)summary["mode"]);
    }

    [Fact]
    public async Task Train_with_workers_0_should_train_in_a_plain_loop_without_the_simulation_keys()
    {
        var result = await DistTrainerProcess.RunAsync("train", "--workers", "0", "--epochs", "2", "--json", "--quiet");

        Assert.True(result.ExitCode == 0, result.ToString());
        var summary = ParseLastLine(result);
        Assert.Equal(2, (int?)summary["epochs"]);
        Assert.False(summary.ContainsKey("workers"));
        Assert.False(summary.ContainsKey("samples_seen_per_epoch"));
    }

    [Theory]
    [InlineData("--workers", "0")] // the plain loop
    [InlineData("--mode", "sync")]
    [InlineData("--mode", "async")]
    public async Task Train_should_end_with_a_clear_error_when_the_training_diverges(string option, string value)
    {
        // A learning rate of 1e30 makes the weights overflow within a few steps: the gradients turn NaN or infinite.
        var result = await DistTrainerProcess.RunAsync("train", option, value, "--optimizer", "sgd", "--lr", "1e30", "--epochs", "3", "--quiet");

        Assert.True(result.ExitCode == 1, result.ToString());
        Assert.Contains("error: training failed: the training diverged", result.StandardError);
        Assert.Contains("a lower learning rate may help", result.StandardError);
        Assert.DoesNotContain("Unhandled exception", result.StandardError);
    }

    [Theory]
    [InlineData("--crash-worker", "2@1", "--crash-worker 2@1: worker must be 0..1 (--workers 2)")]
    [InlineData("--straggler", "5:20", "--straggler 5:20: worker must be 0..1 (--workers 2)")]
    public async Task A_fault_for_a_worker_that_does_not_exist_should_be_a_usage_error(string option, string value, string message)
    {
        var result = await DistTrainerProcess.RunAsync("train", "--workers", "2", option, value, "--epochs", "1");

        Assert.Equal(2, result.ExitCode);
        Assert.Contains($"error: {message}", result.StandardError);
    }

    [Fact]
    public async Task Checkpoint_every_in_async_mode_should_be_a_usage_error()
    {
        var result = await DistTrainerProcess.RunAsync("train", "--mode", "async", "--checkpoint-every", "10", "--epochs", "1");

        Assert.Equal(2, result.ExitCode);
        Assert.Contains("--checkpoint-every needs --mode sync", result.StandardError);
    }

    [Theory]
    [InlineData("0")]
    [InlineData("2")] // two parts of a sync step sum the same in either order, and the loss is summed in part order
    public async Task Train_with_the_same_seed_twice_should_print_identical_json_apart_from_timings(string workers)
    {
        string[] args = ["train", "--data", "wine", "--epochs", "3", "--seed", "7", "--workers", workers, "--json", "--quiet"];
        var first = await DistTrainerProcess.RunAsync(args);
        var second = await DistTrainerProcess.RunAsync(args);

        Assert.True(first.ExitCode == 0, first.ToString());
        Assert.True(second.ExitCode == 0, second.ToString());
        var a = ParseLastLine(first);
        var b = ParseLastLine(second);
        foreach (var key in _timingKeys)
        {
            a.Remove(key);
            b.Remove(key);
        }
        Assert.Equal(a.ToJsonString(), b.ToJsonString());
        Assert.Equal(7, (int?)a["seed"]);
    }

    [Fact]
    public async Task Train_for_regression_should_report_rmse_and_r_squared()
    {
        var result = await DistTrainerProcess.RunAsync("train", "--data", "diabetes", "--epochs", "2", "--json", "--quiet");

        Assert.True(result.ExitCode == 0, result.ToString());
        var summary = ParseLastLine(result);
        Assert.Equal("regression", (string?)summary["task"]);
        Assert.True((double)summary["test_rmse"]! > 0);
        Assert.True(summary.ContainsKey("test_r2"));
        Assert.False(summary.ContainsKey("test_accuracy"));
    }

    private static JsonObject ParseLastLine(ProcessResult result)
    {
        var lines = result.StandardOutputLines;
        Assert.NotEmpty(lines);
        var node = JsonNode.Parse(lines[^1]);
        return Assert.IsType<JsonObject>(node);
    }
}
