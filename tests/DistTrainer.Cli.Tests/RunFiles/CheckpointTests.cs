using DistTrainer.Cli.ModelFiles;
using DistTrainer.Cli.Run;

namespace DistTrainer.Cli.Tests.RunFiles;

public sealed class CheckpointTests : IDisposable
{
    private readonly TempFolder _folder = new();

    public void Dispose() => _folder.Dispose();

    private string NewRunFolder(string name)
    {
        var dir = Path.Combine(_folder.Path, name);
        Directory.CreateDirectory(dir);
        return dir;
    }

    [Fact]
    public void Crash_between_temp_write_and_rename_should_leave_the_previous_checkpoint()
    {
        var dir = NewRunFolder("run");
        SmallRun.Train(dir, checkpointEvery: 10, stopAfterStep: 20);
        var path = Path.Combine(dir, Checkpoint.FileName);
        var before = Checkpoint.Load(path);
        Assert.Equal(20, before.Step);

        // The next checkpoint reaches the disk under its temp name, then the process dies before the rename.
        var newer = Checkpoint.Load(path);
        newer.Step = 30;
        var temp = AtomicFile.WriteTemp(path, newer.ToBytes().AsSpan()[..^100]);

        Assert.True(File.Exists(temp));
        var after = Checkpoint.Load(path);
        Assert.Equal(20, after.Step);
        Assert.True(before.Model.Weights.AsSpan().SequenceEqual(after.Model.Weights));
    }

    [Fact]
    public void Resume_from_a_mid_epoch_checkpoint_should_reach_bitwise_equal_weights()
    {
        var straight = SmallRun.Train(NewRunFolder("straight"));

        var dir = NewRunFolder("interrupted");
        var stopped = SmallRun.Train(dir, checkpointEvery: 7, stopAfterStep: 60);
        Assert.True(stopped.Stopped);
        var checkpoint = Checkpoint.Load(Path.Combine(dir, Checkpoint.FileName));
        Assert.Equal(56, checkpoint.Step);
        Assert.True(checkpoint.Cursor > 0, "the checkpoint should be mid-epoch");

        var job = JobOptions.ForResume(checkpoint, ParsedOptions.Parse("train", [], Commands.TrainCommand.Options), dir);
        var resumed = SmallRun.Train(dir, resume: checkpoint, job: job);

        Assert.False(resumed.Stopped);
        Assert.True(straight.Model.Weights.AsSpan().SequenceEqual(resumed.Model.Weights), "resumed weights differ from the uninterrupted run");
        Assert.Equal(straight.Summary!["final_train_loss"]!.GetValue<double>(), resumed.Summary!["final_train_loss"]!.GetValue<double>());
        Assert.Equal(straight.Summary["test_accuracy"]!.GetValue<double>(), resumed.Summary["test_accuracy"]!.GetValue<double>());
        Assert.Equal(EpochColumns(Path.Combine(_folder.Path, "straight")), EpochColumns(dir));
    }

    [Fact]
    public void Resume_with_a_different_model_option_should_be_a_usage_error()
    {
        var dir = NewRunFolder("run");
        SmallRun.Train(dir, stopAfterStep: 5, checkpointEvery: 5);
        var checkpoint = Checkpoint.Load(Path.Combine(dir, Checkpoint.FileName));
        var given = ParsedOptions.Parse("train", ["--hidden", "32"], Commands.TrainCommand.Options);

        var e = Assert.Throws<UsageException>(() => JobOptions.ForResume(checkpoint, given, dir));
        Assert.Equal($"--hidden 32 does not match the run in {dir}, which used --hidden 16; drop the option to resume it", e.Message);
    }

    [Fact]
    public void Checkpoint_file_should_not_load_as_a_model()
    {
        var dir = NewRunFolder("run");
        SmallRun.Train(dir, stopAfterStep: 5, checkpointEvery: 5);
        var e = Assert.Throws<ModelFileException>(() => TrainedModel.Load(Path.Combine(dir, Checkpoint.FileName)));
        Assert.EndsWith("expected a model file, found a checkpoint", e.Message, StringComparison.Ordinal);
    }

    /// <summary>metrics.csv epoch rows without the timing columns (samples/s, wall time).</summary>
    private static string[] EpochColumns(string dir) =>
        File.ReadLines(Path.Combine(dir, MetricsCsv.FileName))
            .Where(l => l.StartsWith("epoch,", StringComparison.Ordinal))
            .Select(l => l.Split(','))
            .Select(f => string.Join(',', f.Take(7).Concat(f.Skip(9))))
            .ToArray();
}
