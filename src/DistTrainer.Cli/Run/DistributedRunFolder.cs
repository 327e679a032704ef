using System.Diagnostics;
using DistTrainer.Actors.Coordinator;
using DistTrainer.Cli.Commands;
using DistTrainer.Cli.ModelFiles;
using DistTrainer.Numerics.Models;
using DistTrainer.Numerics.Training;
using ActorEpochReport = DistTrainer.Actors.Coordinator.EpochReport;
using EpochReport = DistTrainer.Cli.Commands.EpochReport;

namespace DistTrainer.Cli.Run;

/// <summary>
/// What a run folder needs to know of the model it trains: the options a checkpoint stores, the hash of the data, the
/// model a checkpoint holds for given weights, and its metrics.csv. <see cref="LastEpochRowAtFinish"/>: the last epoch
/// row waits for the end-of-run train evaluation (an MLP's; an RBM's epochs are evaluated on train already).
/// </summary>
public sealed record RunFolderModel(
    Dictionary<string, string> Options, byte[] DataHash, Func<float[], ModelContent> CheckpointModel, Func<string, long?, IMetricsCsv> OpenMetrics,
    bool LastEpochRowAtFinish)
{
    public static RunFolderModel ForMlp(TrainJob job, PreparedData data, Mlp model) => new(
        job.CanonicalOptions(), Checkpoint.HashData(data.Train, data.Test), w => TrainedModel.FromTraining(data, model, w).ToContent(), MetricsCsv.Open,
        LastEpochRowAtFinish: true);
}

/// <summary>
/// The run folder of a job trained through the actor protocol (`train --workers N`, the coordinator node, MLP or RBM):
/// an epoch row in metrics.csv as each epoch ends, checkpoint.dtc whenever the coordinator hands one over, and the
/// end-of-run files. The coordinator calls in on an actor thread, so checkpoints are encoded and written on a
/// background task, one after the other in the order they were taken, each atomically (<see cref="AtomicFile"/>).
/// The checkpoint of the job's end waits for <see cref="Complete"/>, after the end-of-run files: a checkpoint that says
/// the run is finished then always has them beside it, and a crash while they are written leaves the one before, from
/// which a resume trains the rest again and writes them.
/// </summary>
public sealed class DistributedRunFolder : IDisposable
{
    private readonly string _dir;
    private readonly RunFolderModel _model;
    private readonly int _trainCount;
    private readonly TrainingOptions _training;
    private readonly Dictionary<string, string> _options;
    private readonly byte[] _dataHash;
    private readonly double _wallBefore;
    private readonly Stopwatch _clock = Stopwatch.StartNew();
    private readonly long? _stopAfterStep;
    private readonly Lock _lock = new();
    private readonly List<EpochReport> _reports;
    private readonly List<EpochRecord> _history;
    private readonly IMetricsCsv _metrics;
    private readonly CancellationTokenSource _stop = new();
    private Task _writes = Task.CompletedTask;
    private Exception? _writeError;
    private (Checkpoint Checkpoint, float[] Weights)? _final;
    private bool _closed;
    private volatile bool _stopped;

    public DistributedRunFolder(string dir, TrainJob job, PreparedData data, Mlp model, TrainingOptions training, Checkpoint? resume, long? stopAfterStep = null)
        : this(dir, RunFolderModel.ForMlp(job, data, model), data.Train.Count, training, resume, stopAfterStep)
    {
    }

    public DistributedRunFolder(string dir, RunFolderModel model, int trainCount, TrainingOptions training, Checkpoint? resume, long? stopAfterStep = null)
    {
        _dir = dir;
        _model = model;
        _trainCount = trainCount;
        _training = training;
        _options = model.Options;
        _dataHash = resume?.DataHash ?? model.DataHash;
        _wallBefore = resume?.WallSeconds ?? 0;
        _stopAfterStep = stopAfterStep;
        _history = resume?.History.ToList() ?? [];
        _reports = _history.Select((h, i) => TrainingRun.Placeholder(i + 1, h)).ToList();
        _metrics = model.OpenMetrics(Path.Combine(dir, MetricsCsv.FileName), resume?.Step);
        Resume = resume is null ? null : ResumeFrom(resume, training.BatchSize, trainCount);
    }

    public string Directory => _dir;

    /// <summary>Where the coordinator starts, or null for a new run.</summary>
    public ResumeFrom? Resume { get; }

    /// <summary>Cancelled once the checkpoint of <c>stopAfterStep</c> is taken (a test hook that stands for a crash), or a write failed.</summary>
    public CancellationToken StopToken => _stop.Token;

    /// <summary>True once the checkpoint of <c>stopAfterStep</c> was taken: nothing after it reaches the folder, as after a crash.</summary>
    public bool Stopped => _stopped;

    /// <summary>Every epoch so far, those before a resume included (their evaluations are not kept).</summary>
    public IReadOnlyList<EpochReport> Reports
    {
        get
        {
            lock (_lock)
            {
                return _reports.ToList();
            }
        }
    }

    /// <summary>A checkpoint's position for the coordinator; its cursor must fall on a batch boundary (it always does).</summary>
    public static ResumeFrom ResumeFrom(Checkpoint checkpoint, int batchSize, int trainCount)
    {
        if (checkpoint.Cursor % batchSize != 0 || checkpoint.Cursor >= trainCount)
        {
            throw new ModelFileException($"{Checkpoint.FileName}: corrupt checkpoint: cursor {checkpoint.Cursor} is not a batch boundary below {trainCount}");
        }
        var position = new TrainingPosition(checkpoint.Epoch, checkpoint.Cursor / batchSize, checkpoint.Step, checkpoint.EpochLossSum, checkpoint.EpochSeconds);
        return new ResumeFrom(position, checkpoint.Model.Weights, checkpoint.OptimizerState);
    }

    /// <summary>Records a finished epoch (metrics.csv row) and returns it as the CLI reports it.</summary>
    public EpochReport OnEpoch(ActorEpochReport r)
    {
        var report = new EpochReport(r.Epoch, r.TrainLoss, r.Samples, r.Seconds, null, r.Test!) { Workers = r.Workers };
        lock (_lock)
        {
            if (_closed || _stopped)
            {
                return report;
            }
            _reports.Add(report);
            _history.Add(new EpochRecord { TrainLoss = r.TrainLoss, Samples = r.Samples, Seconds = r.Seconds });
            if (r.Epoch < _training.Epochs || !_model.LastEpochRowAtFinish)
            {
                _metrics.Epoch(r.Version, _training.Optimizer.LearningRate, Wall(), report);
            }
        }
        return report;
    }

    /// <summary>Queues checkpoint.dtc for writing; returns at once.</summary>
    public void OnCheckpoint(CheckpointTaken taken)
    {
        EpochRecord[] history;
        double wall;
        lock (_lock)
        {
            if (_closed || _stopped)
            {
                return;
            }
            history = [.. _history];
            wall = Wall();
        }
        var p = taken.Position;
        var checkpoint = new Checkpoint
        {
            Optimizer = _training.Optimizer.Kind.ToString().ToLowerInvariant(),
            OptimizerState = taken.OptimizerState,
            Epoch = p.Epoch,
            Cursor = Math.Min(p.BatchIndex * _training.BatchSize, _trainCount),
            Step = p.Version,
            EpochLossSum = p.EpochLossSum,
            EpochSeconds = p.EpochSeconds,
            Epochs = _training.Epochs,
            Options = _options,
            DataHash = _dataHash,
            TrainSeconds = history.Sum(h => h.Seconds) + p.EpochSeconds,
            WallSeconds = wall,
            History = history,
        };
        var stopHere = p.Version == _stopAfterStep;
        lock (_lock)
        {
            if (p.Epoch >= _training.Epochs && !stopHere)
            {
                _final = (checkpoint, taken.Weights);
                return;
            }
            _writes = _writes.ContinueWith(_ =>
            {
                if (_writeError is not null)
                {
                    return;
                }
                try
                {
                    Save(checkpoint, taken.Weights);
                }
                catch (Exception e) when (e is IOException or UnauthorizedAccessException)
                {
                    _writeError = e;
                    Console.Error.WriteLine($"error: cannot write {CheckpointPath}: {e.Message}");
                    _stop.Cancel();
                }
            }, CancellationToken.None, TaskContinuationOptions.None, TaskScheduler.Default);
            _stopped = stopHere;
        }
        if (stopHere)
        {
            _stop.Cancel(); // the run may still finish first; Stopped tells the caller to discard it
        }
    }

    /// <summary>Waits for the queued checkpoint writes; throws if one failed.</summary>
    public void FlushCheckpoints()
    {
        Task writes;
        lock (_lock)
        {
            writes = _writes;
        }
        writes.GetAwaiter().GetResult();
        if (_writeError is { } error)
        {
            throw new UsageException($"cannot write {CheckpointPath}: {error.Message}");
        }
    }

    /// <summary>Writes the checkpoint of the job's end; call it once the end-of-run files are written.</summary>
    public void Complete()
    {
        FlushCheckpoints();
        (Checkpoint Checkpoint, float[] Weights)? final;
        lock (_lock)
        {
            final = _final;
            _final = null;
        }
        if (final is var (checkpoint, weights))
        {
            try
            {
                Save(checkpoint, weights);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                throw new UsageException($"cannot write {CheckpointPath}: {e.Message}");
            }
        }
    }

    /// <summary>An MLP's end-of-run files (model.dtm, curves.png, summary.json) from the final weights.</summary>
    public RunResult Finish(PreparedData data, Mlp model, float[] weights)
    {
        var reports = Close();
        return TrainingRun.Finish(_dir, data, model, _training, reports, weights, reports.Sum(r => r.Seconds), Wall(), lastEpochRowTo: _metrics);
    }

    /// <summary>Waits for the checkpoint writes and takes no more rows; returns every epoch, those before a resume included.</summary>
    public IReadOnlyList<EpochReport> Close()
    {
        FlushCheckpoints();
        lock (_lock)
        {
            _closed = true;
            if (!_model.LastEpochRowAtFinish)
            {
                _metrics.Dispose();
            }
            return _reports.ToList();
        }
    }

    public void Dispose()
    {
        try
        {
            FlushCheckpoints();
        }
        catch (UsageException)
        {
            // already reported on stderr
        }
        lock (_lock)
        {
            _closed = true;
            _metrics.Dispose();
        }
        _stop.Dispose();
    }

    /// <summary>A metrics.csv step row from the progress feed; dropped once the run stopped or finished.</summary>
    public void WriteStep(StepRow row)
    {
        lock (_lock)
        {
            if (!_closed && !_stopped)
            {
                _metrics.Step(row);
            }
        }
    }

    /// <summary>The run's wall clock, counting the time before a resume.</summary>
    public double WallSeconds() => Wall();

    private string CheckpointPath => Path.Combine(_dir, Checkpoint.FileName);

    private void Save(Checkpoint checkpoint, float[] weights)
    {
        checkpoint.Model = _model.CheckpointModel(weights);
        checkpoint.Save(CheckpointPath);
    }

    private double Wall() => _wallBefore + _clock.Elapsed.TotalSeconds;
}
