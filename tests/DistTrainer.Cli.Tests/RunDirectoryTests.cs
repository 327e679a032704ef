using DistTrainer.Cli.Run;

namespace DistTrainer.Cli.Tests;

public sealed class RunDirectoryTests
{
    [Fact]
    public void Runs_started_in_the_same_second_should_each_get_their_own_default_folder()
    {
        using var temp = new TempFolder();
        var root = Path.Combine(temp.Path, "runs");
        var now = new DateTime(2026, 11, 29, 12, 0, 0, DateTimeKind.Local);

        var folders = new string[16];
        Parallel.For(0, folders.Length, new ParallelOptions { MaxDegreeOfParallelism = 8 }, i => folders[i] = RunDirectory.Create(null, now, root));

        Assert.Equal(folders.Length, folders.Distinct().Count());
        Assert.All(folders, f => Assert.True(Directory.Exists(f), $"{f} was not created"));
        Assert.Contains(Path.Combine(root, "20261129-120000"), folders);
        Assert.Empty(Directory.EnumerateFiles(root)); // no claim file left behind
    }
}
