using System.Globalization;
using DistTrainer.Cli.Commands;
using DistTrainer.Cli.ModelFiles;
using DistTrainer.Numerics.Training;

namespace DistTrainer.Cli.Run;

/// <summary>
/// The model and data options of a job as canonical option text, stored in checkpoints: on resume the job is rebuilt
/// from them, and an option the user gives again must agree.
/// </summary>
public static class JobOptions
{
    public static Dictionary<string, string> CanonicalOptions(this TrainJob job)
    {
        var o = new Dictionary<string, string>(StringComparer.Ordinal)
        {
            ["data"] = job.Data,
            ["hidden"] = job.Hidden.Length == 0 ? "none" : string.Join(',', job.Hidden.Select(h => h.ToString(CultureInfo.InvariantCulture))),
            ["activation"] = job.Activation.ToString().ToLowerInvariant(),
            ["batch"] = job.Batch.ToString(CultureInfo.InvariantCulture),
            ["optimizer"] = job.Optimizer.Kind.ToString().ToLowerInvariant(),
            ["lr"] = job.Optimizer.LearningRate.ToString("R", CultureInfo.InvariantCulture),
            ["momentum"] = job.Optimizer.Momentum.ToString("R", CultureInfo.InvariantCulture),
            ["weight-decay"] = job.Optimizer.WeightDecay.ToString("R", CultureInfo.InvariantCulture),
            ["seed"] = job.Seed.ToString(CultureInfo.InvariantCulture),
        };
        if (job.Label is not null)
        {
            o["label"] = job.Label;
        }
        if (job.Task is { } task)
        {
            o["task"] = task.ToString().ToLowerInvariant();
        }
        return o;
    }

    /// <summary>Options that may change between the interrupted run and its resume (--model is checked by kind).</summary>
    private static readonly HashSet<string> _free = ["epochs", "threads", "json", "quiet", "help", "resume", "out", "log-every", "checkpoint-every", "model"];

    /// <summary>
    /// The job of the run being resumed: the checkpoint's options, with --epochs and --threads from the command line.
    /// Any other option given again must match, or the resume would silently train something else.
    /// </summary>
    public static TrainJob ForResume(Checkpoint checkpoint, ParsedOptions given, string dir)
    {
        if (checkpoint.Options.TryGetValue("model", out var kind) && kind == "rbm")
        {
            throw new UsageException($"{Path.Combine(dir, Checkpoint.FileName)} is the checkpoint of an RBM run; resume it with --model rbm");
        }
        var args = ResumeArguments(checkpoint, given);
        TrainJob saved;
        try
        {
            saved = TrainJob.FromOptions(ParsedOptions.Parse("train", args, TrainCommand.Options));
        }
        catch (UsageException e)
        {
            throw new ModelFileException($"{Path.Combine(dir, Checkpoint.FileName)}: corrupt checkpoint: {e.Message}", e);
        }

        CheckGivenOptionsMatch(checkpoint, given, TrainJob.FromOptions(given).CanonicalOptions(), dir);
        return saved;
    }

    /// <summary>The checkpoint's options as arguments, with --epochs and --threads from the command line.</summary>
    internal static List<string> ResumeArguments(Checkpoint checkpoint, ParsedOptions given)
    {
        // --persistent is a flag: it takes no value.
        var args = checkpoint.Options.Select(p => p.Key == "persistent" ? "--persistent" : $"--{p.Key}={p.Value}").ToList();
        args.Add("--epochs=" + (given.String("epochs") ?? checkpoint.Epochs.ToString(CultureInfo.InvariantCulture)));
        if (given.String("threads") is { } threads)
        {
            args.Add("--threads=" + threads);
        }
        return args;
    }

    /// <summary>
    /// Refuses an option given again with another value than the run used (<paramref name="requested"/> is the
    /// canonical form of what was given): the resume would silently train something else.
    /// </summary>
    internal static void CheckGivenOptionsMatch(Checkpoint checkpoint, ParsedOptions given, Dictionary<string, string> requested, string dir)
    {
        foreach (var option in TrainCommand.Options.Select(o => o.Name).Where(n => given.Has(n) && !_free.Contains(n)))
        {
            checkpoint.Options.TryGetValue(option, out var was);
            requested.TryGetValue(option, out var now);
            if (!string.Equals(was, now, StringComparison.Ordinal))
            {
                var before = was is null ? "its default" : $"--{option} {was}";
                throw new UsageException($"--{option} {now} does not match the run in {dir}, which used {before}; drop the option to resume it");
            }
        }
    }

    /// <summary>A resume must see the same data (<paramref name="dataHash"/>) and must not ask for fewer epochs than were reached.</summary>
    internal static void CheckResumable(Checkpoint checkpoint, byte[] dataHash, string dataName, TrainingOptions training, string dir)
    {
        if (!dataHash.AsSpan().SequenceEqual(checkpoint.DataHash))
        {
            throw new UsageException($"the data {dataName} differs from the data the run in {dir} was trained on");
        }
        var done = checkpoint.Epoch + (checkpoint.Cursor > 0 ? 1 : 0);
        if (training.Epochs < done)
        {
            throw new UsageException($"--epochs {training.Epochs} is fewer than the run in {dir} has already reached ({done})");
        }
    }
}
