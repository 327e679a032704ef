using System.Text.Json.Nodes;

namespace DistTrainer.Cli.Tests;

public class RbmCommandTests
{
    private static readonly string[] _rbmKeys =
    [
        "dataset", "model", "epochs", "train_samples", "test_samples", "samples_per_second", "wall_seconds",
        "reconstruction_error", "pseudo_log_likelihood", "test_accuracy",
    ];

    [Fact]
    public async Task Train_model_rbm_with_json_should_reach_093_test_accuracy_with_the_rbm_defaults_and_report_the_rbm_metrics()
    {
        var result = await DistTrainerProcess.RunAsync("train", "--model", "rbm", "--hidden", "100", "--json");

        Assert.True(result.ExitCode == 0, result.ToString());
        var summary = ParseLastLine(result);
        foreach (var key in _rbmKeys)
        {
            Assert.True(summary.ContainsKey(key), $"missing \"{key}\" in {summary.ToJsonString()}");
        }
        Assert.Equal("rbm 64-100", (string?)summary["model"]);
        // The RBM defaults (sgd 0.06, batch 10, 30 epochs, no weight decay), not the MLP's.
        Assert.Equal("sgd", (string?)summary["optimizer"]);
        Assert.Equal(0.06, (double)summary["learning_rate"]!, 1e-6);
        Assert.Equal(10, (int?)summary["batch"]);
        Assert.Equal(30, (int?)summary["epochs"]);
        Assert.Equal(0.0, (double)summary["weight_decay"]!);
        var accuracy = (double)summary["test_accuracy"]!;
        Assert.True(accuracy >= 0.93, $"test accuracy {accuracy}");
        Assert.InRange((double)summary["pseudo_log_likelihood"]!, -30.0, -5.0);
        Assert.InRange((double)summary["reconstruction_error"]!, 0.0, 0.06);
        // Progress on stderr: one line per epoch with both metrics.
        Assert.Equal(30, result.StandardErrorLines.Count(l => l.StartsWith("epoch ", StringComparison.Ordinal) && l.Contains("test_pll", StringComparison.Ordinal)));
    }

    [Fact]
    public async Task Train_model_rbm_with_three_workers_should_report_the_same_metrics_as_one_process()
    {
        string[] common = ["train", "--model", "rbm", "--hidden", "40", "--epochs", "2", "--seed", "5", "--json", "--quiet"];
        var single = await DistTrainerProcess.RunAsync(common);
        var distributed = await DistTrainerProcess.RunAsync([.. common, "--workers", "3"]);

        Assert.True(single.ExitCode == 0, single.ToString());
        Assert.True(distributed.ExitCode == 0, distributed.ToString());
        var a = ParseLastLine(single);
        var b = ParseLastLine(distributed);
        Assert.Equal(3, (int?)b["workers"]);
        Assert.Equal("sync", (string?)b["mode"]);
        Assert.Equal([1442, 1442], b["samples_seen_per_epoch"]!.AsArray().Select(n => (int)n!).ToArray());
        foreach (var key in new[] { "reconstruction_error", "pseudo_log_likelihood", "train_reconstruction_error", "train_pseudo_log_likelihood" })
        {
            Assert.Equal((double)a[key]!, (double)b[key]!, 1e-5);
        }
    }

    [Fact]
    public async Task Train_mlp_with_pretrain_rbm_should_say_what_it_pretrained_and_train()
    {
        using var folder = new TempFolder();
        var result = await DistTrainerProcess.RunAsync(
            "train", "--hidden", "32", "--activation", "sigmoid", "--pretrain", "rbm", "--pretrain-epochs", "3", "--epochs", "3",
            "--out", Path.Combine(folder.Path, "run"), "--json");

        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Contains(result.StandardErrorLines, l => l.StartsWith("pretrain: layer 1 (64→32)", StringComparison.Ordinal));
        var summary = ParseLastLine(result);
        Assert.Equal("rbm", (string?)summary["pretrain"]);
        Assert.InRange((double)summary["test_accuracy"]!, 0.5, 1.0);
    }

    [Theory]
    [InlineData("train", "--model", "rbm", "--activation", "tanh")]
    [InlineData("train", "--model", "rbm", "--hidden", "10,10")]
    [InlineData("train", "--cd-steps", "2")]
    [InlineData("train", "--pretrain", "pca")]
    [InlineData("train", "--model", "rbm", "--workers", "2", "--mode", "async", "--checkpoint-every", "10")]
    public async Task Train_should_refuse_options_that_do_not_fit_the_model(params string[] args)
    {
        var result = await DistTrainerProcess.RunAsync(args);

        Assert.True(result.ExitCode == 2, result.ToString());
        Assert.StartsWith("error: ", result.StandardError, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Bench_rbm_with_json_should_report_samples_per_second()
    {
        var result = await DistTrainerProcess.RunAsync("bench", "rbm", "--inputs", "64", "--hidden", "32", "--batch", "16", "--reps", "1", "--json");

        Assert.True(result.ExitCode == 0, result.ToString());
        var summary = ParseLastLine(result);
        Assert.Equal("rbm", (string?)summary["bench"]);
        Assert.True((double)summary["samples_per_second"]! > 0);
        Assert.True(summary.ContainsKey("gflops"));
        Assert.True(summary.ContainsKey("allocated_bytes_per_step"));
    }

    private static JsonObject ParseLastLine(ProcessResult result)
    {
        var lines = result.StandardOutputLines;
        Assert.NotEmpty(lines);
        return Assert.IsType<JsonObject>(JsonNode.Parse(lines[^1]));
    }
}
