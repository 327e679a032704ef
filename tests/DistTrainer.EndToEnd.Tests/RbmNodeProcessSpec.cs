using System.Text.Json.Nodes;

namespace DistTrainer.EndToEnd.Tests;

/// <summary>
/// Real `disttrainer node --model rbm` processes on 127.0.0.1: a coordinator + parameter server node and two RBM worker
/// nodes train an RBM by CD through the cluster, while a worker started without --model rbm is refused. The result
/// equals `train --model rbm` in one process (synchronous plain CD draws the same numbers however the batch is split).
/// </summary>
public sealed class RbmNodeProcessSpec : IDisposable
{
    private static readonly TimeSpan _jobTimeout = TimeSpan.FromMinutes(4);
    private readonly NodeGroup _nodes = new();

    [Fact]
    public async Task Rbm_job_on_two_worker_processes_should_match_single_process_training_and_refuse_an_mlp_worker()
    {
        string[] job = ["--model", "rbm", "--hidden", "40", "--epochs", "2", "--seed", "5"];
        var port = NodeProcess.FreePort();
        var seed = $"akka.tcp://disttrainer@127.0.0.1:{port}";
        var coordinator = _nodes.Start("coordinator", ["node", "--role", "coordinator,parameter-server", "--port", $"{port}",
            "--min-workers", "2", .. job, "--result", "result.json", "--json", "--out", "run"]);
        var single = _nodes.Start("single", ["train", .. job, "--out", "single", "--json", "--quiet"]);
        // The mlp worker goes first: once the rbm workers are in, the job may be over before a late node joins.
        var mlpWorker = _nodes.Start("mlp-worker", "node", "--role", "worker", "--port", "0", "--seed-node", seed);
        Assert.Equal(3, await mlpWorker.WaitForExit(_jobTimeout));
        Assert.Contains("it prepared its data for an mlp, the job trains rbm 64-40; start the worker with --model rbm", mlpWorker.Stderr, StringComparison.Ordinal);
        var workers = Enumerable.Range(0, 2)
            .Select(i => _nodes.Start($"worker-{i}", "node", "--role", "worker", "--port", "0", "--seed-node", seed, "--model", "rbm"))
            .ToArray();

        var exit = await coordinator.WaitForExit(_jobTimeout);
        Assert.True(exit == 0, $"coordinator exit {exit}:\n{coordinator.Tail()}");
        foreach (var worker in workers)
        {
            Assert.Equal(0, await worker.WaitForExit(TimeSpan.FromSeconds(30)));
        }
        Assert.Equal(0, await single.WaitForExit(_jobTimeout));

        var cluster = JsonNode.Parse(File.ReadAllText(Path.Combine(_nodes.Dir, "result.json")))!.AsObject();
        var local = JsonNode.Parse(single.Stdout.TrimEnd().Split('\n')[^1])!.AsObject();
        Assert.Equal(2, (int)cluster["workers"]!);
        Assert.Equal([1442, 1442], cluster["samples_seen_per_epoch"]!.AsArray().Select(n => (int)n!).ToArray());
        foreach (var key in new[] { "reconstruction_error", "pseudo_log_likelihood", "train_reconstruction_error", "train_pseudo_log_likelihood", "test_accuracy" })
        {
            Assert.True(cluster.ContainsKey(key), $"missing {key} in {cluster.ToJsonString()}");
            Assert.Equal((double)local[key]!, (double)cluster[key]!, 1e-5);
        }
    }

    public void Dispose() => _nodes.Dispose();
}
