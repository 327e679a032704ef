using System.Text.RegularExpressions;
using DistTrainer.Actors.Cluster;
using DistTrainer.Cli.Commands;

namespace DistTrainer.EndToEnd.Tests;

/// <summary>deploy/ cannot run here (no Docker engine, no Kubernetes): check that what it passes to `disttrainer node` exists.</summary>
public sealed partial class DeployFilesSpec
{
    private static readonly HashSet<string> _nodeOptions = NodeCommand.Options.Select(o => o.Name).ToHashSet(StringComparer.Ordinal);

    public static TheoryData<string> DeployFiles => new(
        Directory.EnumerateFiles(Path.Combine(Paths.RepoRoot, "deploy"), "*", SearchOption.AllDirectories)
            .Where(f => f.EndsWith(".yml", StringComparison.Ordinal) || f.EndsWith(".yaml", StringComparison.Ordinal) || f.EndsWith("Dockerfile", StringComparison.Ordinal) || f.EndsWith(".sh", StringComparison.Ordinal))
            .Select(f => Path.GetRelativePath(Paths.RepoRoot, f)));

    [Theory]
    [MemberData(nameof(DeployFiles))]
    public void Every_flag_a_deploy_file_passes_to_the_node_command_should_exist(string file)
    {
        var lines = File.ReadAllLines(Path.Combine(Paths.RepoRoot, file));
        if (file.EndsWith(".sh", StringComparison.Ordinal))
        {
            // The script's own options (--workers ...) are not node options: check only what it hands to `node`.
            lines = lines.Where(l => l.Contains("node \"${common[@]}\"", StringComparison.Ordinal) || l.TrimStart().StartsWith("common=(", StringComparison.Ordinal)).ToArray();
            Assert.NotEmpty(lines);
        }
        if (file.EndsWith("Dockerfile", StringComparison.Ordinal))
        {
            lines = lines.Where(l => l.StartsWith("ENTRYPOINT", StringComparison.Ordinal) || l.StartsWith("CMD", StringComparison.Ordinal)).ToArray();
            Assert.NotEmpty(lines);
        }
        var text = string.Join('\n', lines.Where(l => !l.TrimStart().StartsWith('#')));
        var flags = FlagPattern().Matches(text).Select(m => m.Groups[1].Value).Distinct().ToList();

        Assert.All(flags, f => Assert.True(_nodeOptions.Contains(f), $"{file} passes --{f}, which `disttrainer node` does not accept"));
        foreach (Match role in RolePattern().Matches(text))
        {
            Assert.All(role.Groups[1].Value.Split(','), r => Assert.Contains(r, ClusterNode.KnownRoles));
        }
    }

    [Fact]
    public void Node_help_should_list_every_option_the_deploy_files_use()
    {
        var help = Cli.ParsedOptions.Help("node", "", NodeCommand.Options);
        foreach (var name in new[] { "role", "host", "public-host", "port", "seed-node", "config", "min-workers", "result", "json" })
        {
            Assert.Contains($"--{name}", help, StringComparison.Ordinal);
        }
    }

    [GeneratedRegex(@"(?<![\w-])--([a-z][a-z-]*)")]
    private static partial Regex FlagPattern();

    [GeneratedRegex(@"--role(?:"",\s*""|\s*\n\s*-\s*|\s+)([\w,-]+)")]
    private static partial Regex RolePattern();
}
