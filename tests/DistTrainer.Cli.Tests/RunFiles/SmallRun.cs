using DistTrainer.Cli.Commands;
using DistTrainer.Cli.ModelFiles;
using DistTrainer.Cli.Run;
using DistTrainer.Numerics.Training;

namespace DistTrainer.Cli.Tests.RunFiles;

/// <summary>A small digits job trained in this process, shared by the run-file tests.</summary>
internal static class SmallRun
{
    public static readonly string[] Args = ["--hidden", "16", "--epochs", "3", "--seed", "7"];

    public static TrainJob Job(params string[] extra) =>
        TrainJob.FromOptions(ParsedOptions.Parse("train", [.. Args, .. extra], TrainCommand.Options));

    public static PreparedData Data { get; } = Job().LoadData();

    public static RunResult Train(string dir, int checkpointEvery = 0, long? stopAfterStep = null, Checkpoint? resume = null, TrainJob? job = null)
    {
        job ??= Job();
        var training = job.CreateTrainingOptions(Data.Train.Count);
        var settings = new RunSettings(dir, LogEvery: 10, CheckpointEvery: checkpointEvery) { StopAfterStep = stopAfterStep };
        using var progress = new PlainProgressView(TextWriter.Null);
        return TrainingRun.Execute(job, Data, training, settings, progress, resume);
    }
}
