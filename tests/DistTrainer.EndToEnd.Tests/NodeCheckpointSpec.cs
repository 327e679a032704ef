using System.Text.Json.Nodes;
using DistTrainer.Cli.ModelFiles;

namespace DistTrainer.EndToEnd.Tests;

/// <summary>
/// The coordinator node's run folder: a coordinator process killed mid-job leaves checkpoint.dtc in `--out`; a new
/// cluster started with `--resume` finishes the job, writes the same files as `train`, and (sync, one worker) ends
/// exactly where an uninterrupted cluster run ends. The same holds for an RBM job.
/// </summary>
public sealed class NodeCheckpointSpec : IDisposable
{
    private static readonly TimeSpan _jobTimeout = TimeSpan.FromMinutes(4);
    private static readonly string[] _job = ["--epochs", "3", "--hidden", "64", "--lr", "0.005", "--seed", "3"];
    private static readonly string[] _crashAt = ["--checkpoint-every", "20", "--log-every", "20"]; // KillMidJobAsync waits for the step 20 line
    // The crashed cluster's worker is a straggler, so the job is seconds from its end when the test sees step 20 and freezes it.
    private static readonly string[] _slowWorker = ["--straggler", "100"];
    private readonly NodeGroup _nodes = new();

    [Fact]
    public async Task Coordinator_killed_mid_job_should_resume_from_its_run_folder_to_the_uninterrupted_result()
    {
        var straight = await RunClusterAsync("straight", ["--out", "straight", "--checkpoint-every", "20"]);

        var (coordinator, worker) = StartCluster("crashed", ["--out", "run", .. _crashAt, .. _job], _slowWorker);
        await KillMidJobAsync(coordinator, worker);

        var resumed = await RunClusterAsync("resumed", ["--resume", "run"]);

        foreach (var key in new[] { "epochs", "final_train_loss", "train_accuracy", "test_accuracy", "test_loss", "samples_seen_per_epoch" })
        {
            Assert.Equal(straight[key]!.ToJsonString(), resumed[key]!.ToJsonString());
        }
        foreach (var file in new[] { "metrics.csv", "summary.json", "model.dtm", "curves.png", "checkpoint.dtc" })
        {
            Assert.True(File.Exists(Path.Combine(_nodes.Dir, "run", file)), $"run/{file} is missing");
        }
        Assert.Equal(File.ReadAllBytes(Path.Combine(_nodes.Dir, "straight", "model.dtm")), File.ReadAllBytes(Path.Combine(_nodes.Dir, "run", "model.dtm")));
        var epochRows = File.ReadLines(Path.Combine(_nodes.Dir, "run", "metrics.csv")).Where(l => l.StartsWith("epoch,", StringComparison.Ordinal)).ToList();
        Assert.Equal(["1", "2", "3"], epochRows.Select(l => l.Split(',')[1]));
        Assert.Equal(resumed.ToJsonString(), JsonNode.Parse(File.ReadAllText(Path.Combine(_nodes.Dir, "run", "summary.json")))!.ToJsonString());
    }

    [Fact]
    public async Task Rbm_coordinator_killed_mid_epoch_should_resume_to_exactly_the_weights_of_train_with_one_worker()
    {
        string[] job = ["--model", "rbm", "--hidden", "16", "--epochs", "3", "--seed", "3"];
        // The uninterrupted run: the same actors in one process (one sync worker computes the same gradients as a worker node).
        var straight = _nodes.Start("straight", ["train", .. job, "--workers", "1", "--out", "straight", "--json", "--quiet"]);

        var (coordinator, worker) = StartCluster("crashed", ["--out", "run", .. _crashAt, .. job], ["--model", "rbm", .. _slowWorker]);
        await KillMidJobAsync(coordinator, worker);

        var resumed = await RunClusterAsync("resumed", ["--resume", "run", "--model", "rbm"], ["--model", "rbm"]);

        Assert.Equal(0, await straight.WaitForExit(_jobTimeout));
        var expected = TrainedModel.Load(Path.Combine(_nodes.Dir, "straight", "model.dtm"));
        var actual = TrainedModel.Load(Path.Combine(_nodes.Dir, "run", "model.dtm"));
        Assert.True(expected.Rbm!.Weights.AsSpan().SequenceEqual(actual.Rbm!.Weights), "the resumed cluster's RBM differs from the uninterrupted run");
        var local = JsonNode.Parse(straight.Stdout.TrimEnd().Split('\n')[^1])!.AsObject();
        foreach (var key in new[] { "epochs", "reconstruction_error", "pseudo_log_likelihood", "test_accuracy", "samples_seen_per_epoch" })
        {
            Assert.Equal(local[key]!.ToJsonString(), resumed[key]!.ToJsonString());
        }
        var epochRows = File.ReadLines(Path.Combine(_nodes.Dir, "run", "metrics.csv")).Where(l => l.StartsWith("epoch,", StringComparison.Ordinal)).ToList();
        Assert.Equal(["1", "2", "3"], epochRows.Select(l => l.Split(',')[1]));
        Assert.True(File.Exists(Path.Combine(_nodes.Dir, "run", "curves.png")));
        Assert.Equal(resumed.ToJsonString(), JsonNode.Parse(File.ReadAllText(Path.Combine(_nodes.Dir, "run", "summary.json")))!.ToJsonString());
    }

    /// <summary>
    /// Freezes the (straggling) worker as soon as the coordinator logs step 20, which it checkpoints, so the job cannot
    /// end before the kill however slowly that checkpoint is written; then waits for checkpoint.dtc and kills both processes.
    /// </summary>
    private async Task KillMidJobAsync(NodeProcess coordinator, NodeProcess worker)
    {
        await coordinator.WaitForStderr("step 20/", _jobTimeout);
        worker.Freeze();
        var checkpoint = Path.Combine(_nodes.Dir, "run", "checkpoint.dtc");
        var waited = System.Diagnostics.Stopwatch.StartNew();
        while (!File.Exists(checkpoint))
        {
            Assert.True(waited.Elapsed < _jobTimeout, $"no checkpoint.dtc:\n{coordinator.Tail()}");
            await Task.Delay(20);
        }
        coordinator.KillHard();
        worker.KillHard();
        Assert.False(File.Exists(Path.Combine(_nodes.Dir, "run", "model.dtm")), "the job finished before the kill");
    }

    /// <summary>A coordinator + parameter-server process and one worker process; returns the coordinator's --result.</summary>
    private async Task<JsonObject> RunClusterAsync(string name, string[] options, string[]? workerOptions = null)
    {
        var (coordinator, worker) = StartCluster(name, [.. options, "--result", $"{name}.json", .. (options.Contains("--resume") ? [] : _job)], workerOptions ?? []);
        var exit = await coordinator.WaitForExit(_jobTimeout);
        Assert.True(exit == 0, $"{name} coordinator exit {exit}:\n{coordinator.Tail()}");
        Assert.Equal(0, await worker.WaitForExit(TimeSpan.FromSeconds(30)));
        return JsonNode.Parse(File.ReadAllText(Path.Combine(_nodes.Dir, $"{name}.json")))!.AsObject();
    }

    private (NodeProcess Coordinator, NodeProcess Worker) StartCluster(string name, string[] options, string[]? workerOptions = null)
    {
        var port = NodeProcess.FreePort();
        var coordinator = _nodes.Start($"{name}-coordinator", ["node", "--role", "coordinator,parameter-server", "--port", $"{port}", .. options]);
        var worker = _nodes.Start($"{name}-worker",
            ["node", "--role", "worker", "--port", "0", "--seed-node", $"akka.tcp://disttrainer@127.0.0.1:{port}", .. workerOptions ?? []]);
        return (coordinator, worker);
    }

    public void Dispose() => _nodes.Dispose();
}
