namespace DistTrainer.EndToEnd.Tests;

/// <summary>A node whose seed never answers (not started, or its job already over) gives up instead of retrying for ever.</summary>
public sealed class NodeJoinSpec : IDisposable
{
    private readonly NodeGroup _nodes = new();

    [Fact]
    public async Task Worker_should_exit_1_naming_the_seed_when_no_seed_node_answers_in_time()
    {
        File.WriteAllText(Path.Combine(_nodes.Dir, "quick-join.hocon"), "akka.cluster.shutdown-after-unsuccessful-join-seed-nodes = 3s\n");
        var seed = $"akka.tcp://disttrainer@127.0.0.1:{NodeProcess.FreePort()}";

        var worker = _nodes.Start("worker", "node", "--role", "worker", "--port", "0", "--seed-node", seed, "--config", "quick-join.hocon");

        Assert.Equal(1, await worker.WaitForExit(TimeSpan.FromSeconds(90)));
        Assert.Contains($"error: could not join the cluster: no seed node of [{seed}] answered within 3 s", worker.Stderr, StringComparison.Ordinal);
    }

    public void Dispose() => _nodes.Dispose();
}
