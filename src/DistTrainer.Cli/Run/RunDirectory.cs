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
    /// Creates <paramref name="requested"/>, or runs/&lt;yyyyMMdd-HHmmss&gt; when none is given. A folder that already
    /// holds a run is refused rather than overwritten: it may be resumed with --resume.
    /// </summary>
    public static string Create(string? requested, DateTime now)
    {
        var path = requested;
        if (path is null)
        {
            var stamp = Path.Combine("runs", now.ToString("yyyyMMdd-HHmmss", CultureInfo.InvariantCulture));
            path = stamp;
            for (var i = 2; Directory.Exists(path); i++)
            {
                path = $"{stamp}-{i.ToString(CultureInfo.InvariantCulture)}";
            }
        }
        else if (File.Exists(path))
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
