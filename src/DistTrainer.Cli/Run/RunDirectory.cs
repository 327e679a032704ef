using System.Globalization;
using DistTrainer.Cli.ModelFiles;

namespace DistTrainer.Cli.Run;

/// <summary>The folder a training run writes to: metrics.csv, summary.json, model.dtm, curves.png, checkpoint.dtc.</summary>
public static class RunDirectory
{
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
        Directory.CreateDirectory(path);
        return path;
    }
}
