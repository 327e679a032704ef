using System.Collections.Concurrent;
using System.Globalization;
using DistTrainer.Cli.ModelFiles;

namespace DistTrainer.Cli.Run;

/// <summary>The folder a training run writes to: metrics.csv, summary.json, model.dtm, curves.png, checkpoint.dtc.</summary>
public static class RunDirectory
{
    /// <summary>
    /// The run folder of `--out`/`--resume`: with --resume, that folder and its last checkpoint (a different --out is
    /// refused); otherwise a new folder from <see cref="Create"/> and no checkpoint.
    /// </summary>
    public static (string Directory, Checkpoint? Checkpoint) CreateOrResume(ParsedOptions options)
    {
        if (options.String("resume") is not { } resumeDir)
        {
            return (Create(options.String("out"), DateTime.Now), null);
        }
        if (options.String("out") is { } outDir && Path.GetFullPath(outDir) != Path.GetFullPath(resumeDir))
        {
            throw new UsageException("--out and --resume name different folders; a resumed run continues in its own folder");
        }
        return (resumeDir, Checkpoint.Load(Path.Combine(resumeDir, Checkpoint.FileName)));
    }

    /// <summary>
    /// Creates <paramref name="requested"/>, or a new &lt;yyyyMMdd-HHmmss&gt; folder in <paramref name="runsRoot"/> when
    /// none is given. A folder that already holds a run is refused rather than overwritten: it may be resumed with --resume.
    /// </summary>
    public static string Create(string? requested, DateTime now, string runsRoot = "runs")
    {
        var path = requested;
        if (path is null)
        {
            path = ClaimNew(Path.Combine(runsRoot, now.ToString("yyyyMMdd-HHmmss", CultureInfo.InvariantCulture)));
            CreatedHere.TryAdd(Path.GetFullPath(path), true);
            return path;
        }
        if (File.Exists(path))
        {
            throw new UsageException($"--out {path} is a file; expected a folder for the run");
        }
        else if (File.Exists(Path.Combine(path, Checkpoint.FileName)) || File.Exists(Path.Combine(path, TrainingRun.ModelFileName)))
        {
            throw new UsageException($"--out {path} already holds a run; continue it with --resume {path} or choose another folder");
        }
        if (!Directory.Exists(path))
        {
            Directory.CreateDirectory(path);
            CreatedHere.TryAdd(Path.GetFullPath(path), true);
        }
        return path;
    }

    /// <summary>
    /// Creates <paramref name="stamp"/>, or stamp-2, stamp-3, ... if taken. Runs started in the same second from the same
    /// folder must not share one: a name is claimed by creating a sibling "NAME.claim" file exclusively (CreateNew), which
    /// is removed once the folder exists.
    /// </summary>
    private static string ClaimNew(string stamp)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(stamp)!);
        for (var i = 1; ; i++)
        {
            var path = i == 1 ? stamp : $"{stamp}-{i.ToString(CultureInfo.InvariantCulture)}";
            if (Directory.Exists(path))
            {
                continue;
            }
            var claim = path + ".claim";
            try
            {
                using (new FileStream(claim, FileMode.CreateNew, FileAccess.Write))
                {
                }
            }
            catch (IOException) when (File.Exists(claim) || Directory.Exists(path))
            {
                continue; // another run is claiming this name, or has just taken it
            }
            try
            {
                if (Directory.Exists(path))
                {
                    continue; // created and released by another run since the check above
                }
                Directory.CreateDirectory(path);
                return path;
            }
            finally
            {
                File.Delete(claim);
            }
        }
    }

    /// <summary>
    /// Removes <paramref name="dir"/> when disposed if this process created it and it is still empty: a run that
    /// failed before writing anything (bad data, a bad option) leaves no empty folder behind.
    /// </summary>
    public static IDisposable RemoveIfLeftEmpty(string? dir) => new EmptyFolderSweeper(dir);

    // Folders Create made in this process; only these are ever removed again.
    private static readonly ConcurrentDictionary<string, bool> CreatedHere = new();

    private sealed class EmptyFolderSweeper(string? dir) : IDisposable
    {
        public void Dispose()
        {
            if (dir is null || !CreatedHere.TryRemove(Path.GetFullPath(dir), out _))
            {
                return;
            }
            try
            {
                if (Directory.Exists(dir) && !Directory.EnumerateFileSystemEntries(dir).Any())
                {
                    Directory.Delete(dir);
                }
            }
            catch (IOException)
            {
                // Something else is using the folder now: it stays.
            }
        }
    }
}
