namespace DistTrainer.EndToEnd.Tests;

/// <summary>
/// A test's temporary folder and the node processes it started there. Disposing stops every process (showing the
/// output tail of any still running, which names a hang) and removes the folder.
/// </summary>
internal sealed class NodeGroup : IDisposable
{
    private readonly List<NodeProcess> _nodes = [];

    public string Dir { get; } = Directory.CreateTempSubdirectory("disttrainer-e2e-").FullName;

    /// <summary>Starts `disttrainer ARGS` in <see cref="Dir"/> and stops it with the group.</summary>
    public NodeProcess Start(string name, params string[] args)
    {
        var node = NodeProcess.Start(name, Dir, args);
        _nodes.Add(node);
        return node;
    }

    public void Dispose()
    {
        foreach (var node in _nodes)
        {
            if (!node.HasExited)
            {
                Console.WriteLine($"{node.Name} was still running:\n{node.Tail()}");
            }
            node.Dispose();
        }
        try
        {
            Directory.Delete(Dir, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}
