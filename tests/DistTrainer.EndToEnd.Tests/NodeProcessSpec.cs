using System.Text.Json.Nodes;

namespace DistTrainer.EndToEnd.Tests;

/// <summary>
/// Real `disttrainer node` processes on 127.0.0.1: a coordinator + parameter server node and two worker nodes train the
/// embedded digits; then the same with one worker killed by SIGKILL in the middle of training.
/// </summary>
public sealed class NodeProcessSpec : IDisposable
{
    private static readonly TimeSpan _jobTimeout = TimeSpan.FromMinutes(4);
    private readonly NodeGroup _nodes = new();

    [Fact]
    public async Task Coordinator_and_two_worker_processes_should_train_digits_and_every_process_should_exit_0()
    {
        var (coordinator, workers) = StartCluster(epochs: 6, extra: ["--out", "run", "--log-every", "20"]);

        var exit = await coordinator.WaitForExit(_jobTimeout);
        Assert.True(exit == 0, $"coordinator exit {exit}:\n{coordinator.Tail()}");
        var result = ReadResult();
        AssertExactlyOncePerEpoch(result, epochs: 6);
        Assert.Equal(2, (int)result["workers"]!);
        Assert.True((double)result["test_accuracy"]! >= 0.95, $"accuracy {result["test_accuracy"]}");
        foreach (var worker in workers)
        {
            Assert.Equal(0, await worker.WaitForExit(TimeSpan.FromSeconds(30)));
        }
        // The JSON summary (--json) is the coordinator's only stdout line, and a worker prints nothing there: every log
        // line, Akka's own at shutdown ("Remoting shut down") included, goes to stderr.
        Assert.Equal(result.ToJsonString(), coordinator.Stdout.Trim());
        Assert.All(workers, w => Assert.True(w.Stdout.Trim().Length == 0, $"worker stdout: {w.Stdout}"));

        // Progress on stderr: a plain step line with both workers every 20 of the 6 × 46 steps, and the same windows,
        // with their training accuracy, as step rows of run/metrics.csv.
        var steps = coordinator.StderrLines.Select(l => l.Line).Where(l => l.StartsWith("step ", StringComparison.Ordinal)).ToList();
        Assert.Equal(276 / 20, steps.Count);
        Assert.All(steps, l => Assert.Matches(@"^step \d+/276  epoch \d/6  loss \d+\.\d{4}  acc \d\.\d{4}  samples/s \d+  eta [\d:]+  workers w\d+:\d+:[\d.]+ms:[\d.]+s w\d+:\d+:[\d.]+ms:[\d.]+s$", l));
        var rows = File.ReadAllLines(Path.Combine(_nodes.Dir, "run", "metrics.csv")).Where(l => l.StartsWith("step,", StringComparison.Ordinal)).Select(l => l.Split(',')).ToList();
        Assert.Equal(Enumerable.Range(1, 276 / 20).Select(i => (i * 20).ToString(System.Globalization.CultureInfo.InvariantCulture)), rows.Select(f => f[2]));
        Assert.All(rows, f => Assert.InRange(double.Parse(f[4], System.Globalization.CultureInfo.InvariantCulture), 0, 1));
    }

    [Theory]
    [InlineData(false)] // built-in defaults: tensors over Akka.Remote
    [InlineData(true)]  // the repository's cluster.hocon: tensors over the bulk channel
    public async Task Job_should_finish_with_every_sample_once_per_epoch_when_a_worker_process_is_killed_mid_training(bool withClusterHocon)
    {
        // 19,210 parameters: chunked tensors. The victim straggles, so the job is far from its end when the test sees epoch 3.
        var (coordinator, workers) = StartCluster(epochs: 12, withClusterHocon, hidden: "256", extra: ["--out", "run"], lastWorker: ["--straggler", "20"]);
        await coordinator.WaitForStderr("epoch 3/12", _jobTimeout);
        var victim = workers[1];
        var killedAt = coordinator.Elapsed;
        victim.KillHard();

        var goneAt = await coordinator.WaitForStderr("workers left", TimeSpan.FromSeconds(60));
        var dropSeconds = (goneAt - killedAt).TotalSeconds;
        Assert.True(dropSeconds < 15, $"the killed worker was dropped {dropSeconds:F1} s after the kill (the resolver would take ~27 s)");
        Assert.Contains(coordinator.StderrLines, l => l.Line.Contains("is unreachable: downing it now", StringComparison.Ordinal));

        var exit = await coordinator.WaitForExit(_jobTimeout);
        Assert.True(exit == 0, $"coordinator exit {exit}:\n{coordinator.Tail()}");
        var result = ReadResult();
        AssertExactlyOncePerEpoch(result, epochs: 12);
        Assert.True((double)result["test_accuracy"]! >= 0.95, $"accuracy {result["test_accuracy"]}");
        Assert.Equal(0, (int)result["duplicate_samples"]!);
        Assert.Equal(0, await workers[0].WaitForExit(TimeSpan.FromSeconds(30)));
        Assert.True(victim.HasExited);
        Console.WriteLine($"killed worker dropped after {dropSeconds:F1} s (cluster.hocon: {withClusterHocon})");
        if (withClusterHocon)
        {
            Assert.Contains(coordinator.StderrLines, l => l.Line.Contains("go over the bulk channel", StringComparison.Ordinal));
        }
    }

    private (NodeProcess Coordinator, NodeProcess[] Workers) StartCluster(int epochs, bool withClusterHocon = false, string hidden = "64", string[]? extra = null,
        string[]? lastWorker = null)
    {
        var port = NodeProcess.FreePort();
        var seed = $"akka.tcp://disttrainer@127.0.0.1:{port}";
        string[] config = withClusterHocon ? ["--config", Path.Combine(Paths.RepoRoot, "cluster.hocon"), "--seed-node", seed] : [];
        var coordinator = _nodes.Start("coordinator", ["node", "--role", "coordinator,parameter-server", "--port", $"{port}",
            "--min-workers", "2", "--epochs", $"{epochs}", "--hidden", hidden, "--lr", "0.005", "--seed", "3", "--result", "result.json", "--json", .. config, .. extra ?? []]);
        var workers = Enumerable.Range(0, 2)
            .Select(i => _nodes.Start($"worker-{i}", ["node", "--role", "worker", "--port", "0",
                .. (withClusterHocon ? config : ["--seed-node", seed]), .. (i == 1 ? lastWorker ?? [] : [])]))
            .ToArray();
        return (coordinator, workers);
    }

    private JsonObject ReadResult() => JsonNode.Parse(File.ReadAllText(Path.Combine(_nodes.Dir, "result.json")))!.AsObject();

    private static void AssertExactlyOncePerEpoch(JsonObject result, int epochs)
    {
        var trainSamples = (int)result["train_samples"]!;
        var perEpoch = result["samples_seen_per_epoch"]!.AsArray().Select(n => (int)n!).ToArray();
        Assert.Equal(epochs, perEpoch.Length);
        Assert.All(perEpoch, n => Assert.Equal(trainSamples, n));
    }

    public void Dispose() => _nodes.Dispose();
}

/// <summary>Ctrl-C and SIGTERM: a node leaves the cluster gracefully and exits with 130 / 143.</summary>
public sealed class NodeSignalSpec : IDisposable
{
    private readonly NodeGroup _nodes = new();

    [Fact]
    public async Task Nodes_should_leave_the_cluster_and_exit_on_SIGTERM_and_SIGINT()
    {
        var port = NodeProcess.FreePort();
        var coordinator = _nodes.Start("coordinator", "node", "--role", "coordinator,parameter-server", "--port", $"{port}", "--min-workers", "5", "--out", "run");
        var worker = _nodes.Start("worker", "node", "--role", "worker", "--port", "0", "--seed-node", $"akka.tcp://disttrainer@127.0.0.1:{port}");
        await coordinator.WaitForStderr("worker 0 joined", TimeSpan.FromSeconds(90));

        Signal(worker, "TERM");
        Assert.Equal(143, await worker.WaitForExit(TimeSpan.FromSeconds(30)));
        await coordinator.WaitForStderr("(worker) left the cluster", TimeSpan.FromSeconds(30));

        Signal(coordinator, "INT");
        Assert.Equal(130, await coordinator.WaitForExit(TimeSpan.FromSeconds(30)));
    }

    [Fact]
    public async Task Worker_and_parameter_server_processes_should_exit_when_the_coordinator_process_is_killed()
    {
        var port = NodeProcess.FreePort();
        var seed = $"akka.tcp://disttrainer@127.0.0.1:{port}";
        var coordinator = _nodes.Start("coordinator", "node", "--role", "coordinator", "--port", $"{port}", "--min-workers", "1", "--epochs", "200", "--out", "run");
        var parameterServer = _nodes.Start("parameter-server", "node", "--role", "parameter-server", "--port", "0", "--seed-node", seed);
        var worker = _nodes.Start("worker", "node", "--role", "worker", "--port", "0", "--seed-node", seed);
        await coordinator.WaitForStderr("epoch 1/200", TimeSpan.FromSeconds(90));

        coordinator.KillHard();

        // The resolver removes the dead coordinator (stable-after 20 s); then nothing can drive the job any more.
        Assert.NotEqual(0, await worker.WaitForExit(TimeSpan.FromSeconds(90)));
        Assert.NotEqual(0, await parameterServer.WaitForExit(TimeSpan.FromSeconds(30)));
    }

    private static void Signal(NodeProcess node, string signal)
    {
        using var kill = System.Diagnostics.Process.Start("kill", ["-" + signal, node.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)]);
        kill.WaitForExit();
    }

    public void Dispose() => _nodes.Dispose();
}
