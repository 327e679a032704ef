using System.Text.Json.Nodes;
using DistTrainer.Actors.Coordinator;
using DistTrainer.Actors.Messages;
using DistTrainer.Cli.Commands;
using DistTrainer.Cli.ModelFiles;
using DistTrainer.Cli.Run;
using DistTrainer.Numerics.Models;
using DistTrainer.Numerics.Training;
using ActorEpochReport = DistTrainer.Actors.Coordinator.EpochReport;

namespace DistTrainer.Cli.Tests.RunFiles;

/// <summary>`train --workers N`: checkpoint.dtc from the coordinator, and resume in the run folder.</summary>
public sealed class SimulationCheckpointTests : IDisposable
{
    private readonly TempFolder _folder = new();

    public void Dispose() => _folder.Dispose();

    [Fact]
    public void Sync_run_with_workers_stopped_after_a_checkpoint_should_resume_to_the_uninterrupted_weights_and_files()
    {
        var straightDir = NewRunFolder("straight");
        var straight = Train(straightDir, checkpointEvery: 10);

        var dir = NewRunFolder("interrupted");
        var stopped = Train(dir, checkpointEvery: 10, stopAfterStep: 60);
        Assert.True(stopped.Stopped);
        var path = Path.Combine(dir, Checkpoint.FileName);
        var checkpoint = Checkpoint.Load(path);
        Assert.Equal((60L, 1, 14 * 32), (checkpoint.Step, checkpoint.Epoch, checkpoint.Cursor)); // 46 steps per epoch
        Assert.Single(checkpoint.History);
        Assert.False(File.Exists(AtomicFile.TempPath(path)), "the atomic write left its temp file");

        var job = JobOptions.ForResume(checkpoint, ParsedOptions.Parse("train", [], TrainCommand.Options), dir);
        var resumed = Train(dir, checkpointEvery: 10, resume: checkpoint, job: job);

        Assert.False(resumed.Stopped);
        Assert.True(straight.Model.Weights.AsSpan().SequenceEqual(resumed.Model.Weights), "resumed weights differ from the uninterrupted run");
        foreach (var key in new[] { "epochs", "final_train_loss", "train_accuracy", "test_accuracy", "test_loss", "workers" })
        {
            Assert.Equal(straight.Summary![key]!.ToJsonString(), resumed.Summary![key]!.ToJsonString());
        }
        Assert.Equal("[1442,1442,1442]", resumed.Summary!["samples_seen_per_epoch"]!.ToJsonString());
        Assert.Equal(EpochRows(straightDir), EpochRows(dir));
        Assert.Equal(resumed.Summary.ToJsonString(), JsonNode.Parse(File.ReadAllText(Path.Combine(dir, TrainingRun.SummaryFileName)))!.ToJsonString());
        var last = Checkpoint.Load(path);
        Assert.Equal((3, 0, 138L), (last.Epoch, last.Cursor, last.Step));
        Assert.True(last.Model.Weights.AsSpan().SequenceEqual(resumed.Model.Weights));
        Assert.True(TrainedModel.Load(Path.Combine(dir, TrainingRun.ModelFileName)).Weights.AsSpan().SequenceEqual(resumed.Model.Weights));
    }

    [Fact]
    public void Checkpoint_of_the_plain_loop_should_resume_with_workers_to_the_plain_result_up_to_rounding()
    {
        var straight = SmallRun.Train(NewRunFolder("plain"));
        var dir = NewRunFolder("mixed");
        SmallRun.Train(dir, checkpointEvery: 10, stopAfterStep: 75);
        var checkpoint = Checkpoint.Load(Path.Combine(dir, Checkpoint.FileName));
        Assert.Equal(70, checkpoint.Step);

        var job = JobOptions.ForResume(checkpoint, ParsedOptions.Parse("train", [], TrainCommand.Options), dir);
        var resumed = Train(dir, checkpointEvery: 0, resume: checkpoint, job: job);

        var diff = straight.Model.Weights.Zip(resumed.Model.Weights).Max(p => Math.Abs(p.First - p.Second));
        Assert.True(diff <= 1e-5f, $"max abs diff {diff}"); // the sum of two parts' gradients rounds unlike the whole batch's
    }

    [Fact]
    public void Checkpoint_of_the_jobs_end_should_be_written_only_once_the_run_is_complete()
    {
        var dir = NewRunFolder("ending");
        var job = SmallRun.Job();
        var data = SmallRun.Data;
        var training = job.CreateTrainingOptions(data.Train.Count);
        var model = new Mlp(job.CreateSpec(data));
        var path = Path.Combine(dir, Checkpoint.FileName);
        var last = training.Epochs;
        var evaluation = new Evaluation(0.5, 0.9, null, null, null);

        // Epochs before the last end, then a step inside the last, then the job's end.
        void TrainUpToTheEnd(DistributedRunFolder folder)
        {
            for (var epoch = 1; epoch <= last; epoch++)
            {
                if (epoch == last)
                {
                    folder.OnCheckpoint(new CheckpointTaken(new TrainingPosition(last - 1, 10, 100, 1.0, 0.1), new float[model.ParameterCount], []));
                }
                folder.OnEpoch(new ActorEpochReport(epoch, 0.5, data.Train.Count, 1, 1442, evaluation, [], epoch * 46L, 0, 0));
            }
            folder.OnCheckpoint(new CheckpointTaken(new TrainingPosition(last, 0, last * 46L, 0, 0), new float[model.ParameterCount], []));
            folder.FlushCheckpoints();
        }

        using (var crashed = new DistributedRunFolder(dir, job, data, model, training, resume: null))
        {
            TrainUpToTheEnd(crashed);
            Assert.Equal(100, Checkpoint.Load(path).Step);
        } // disposed before Complete, as when the process dies while it writes the end-of-run files
        Assert.Equal(100, Checkpoint.Load(path).Step);

        using var finished = new DistributedRunFolder(dir, job, data, model, training, resume: null);
        TrainUpToTheEnd(finished);
        finished.Close();
        Assert.Equal(100, Checkpoint.Load(path).Step);
        finished.Complete();
        var end = Checkpoint.Load(path);
        Assert.Equal((last, 0, last * 46L), (end.Epoch, end.Cursor, end.Step));
    }

    private string NewRunFolder(string name)
    {
        var dir = Path.Combine(_folder.Path, name);
        Directory.CreateDirectory(dir);
        return dir;
    }

    /// <summary>Trains <see cref="SmallRun"/>'s job with two sync workers, as `train --workers 2` does.</summary>
    private static RunResult Train(string dir, int checkpointEvery, long? stopAfterStep = null, Checkpoint? resume = null, TrainJob? job = null)
    {
        job ??= SmallRun.Job();
        var data = SmallRun.Data;
        var training = job.CreateTrainingOptions(data.Train.Count);
        var model = new Mlp(job.CreateSpec(data));
        var settings = new RunSettings(dir, LogEvery: 10, CheckpointEvery: checkpointEvery) { StopAfterStep = stopAfterStep };
        using var folder = new DistributedRunFolder(dir, job, data, model, training, resume, stopAfterStep);
        using var view = IProgressView.Create(quiet: true, onStandardError: false);
        var feed = new ActorProgressFeed(view, new WorkerTable(), folder.WriteStep, settings.LogEvery, data, training, folder.WallSeconds);
        return SimulationRun.Execute(model, data, training, new SimulationSettings(2, TrainingMode.Sync, [], []), folder, settings, feed);
    }

    /// <summary>The epoch rows of metrics.csv without the timing columns.</summary>
    private static List<string> EpochRows(string dir) =>
        File.ReadLines(Path.Combine(dir, MetricsCsv.FileName)).Where(l => l.StartsWith("epoch,", StringComparison.Ordinal))
            .Select(l => l.Split(',')).Select(f => string.Join(',', f[..7].Concat(f[9..]))).ToList();
}
