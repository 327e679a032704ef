using System.Diagnostics;
using DistTrainer.Actors.Coordinator;
using DistTrainer.Numerics.Data;
using DistTrainer.Numerics.Training;
using EpochReport = DistTrainer.Cli.Commands.EpochReport;

namespace DistTrainer.Cli.Run;

/// <summary>The live worker table's data: replaced as a whole by each progress event, read by the renderer.</summary>
public sealed class WorkerTable : IWorkerStatusSource
{
    private volatile IReadOnlyList<WorkerStatus> _workers = [];

    public IReadOnlyList<WorkerStatus> Snapshot() => _workers;

    public void Update(IReadOnlyList<WorkerStatus> workers) => _workers = workers;
}

/// <summary>
/// Turns the coordinator's events (the simulation's and the coordinator node's) into progress: each
/// <see cref="TrainingProgress"/> moves the bar and the worker table, and every <c>logEvery</c> steps it closes the
/// window since the previous row into a <see cref="StepRow"/> for metrics.csv and the plain "step" line. The coordinator
/// sends steps and epochs to one listener actor, so the calls come in order, one at a time.
/// </summary>
public sealed class ActorProgressFeed
{
    private readonly IProgressView _view;
    private readonly WorkerTable _table;
    private readonly Action<StepRow>? _writeRow;
    private readonly int _logEvery;
    private readonly int _epochs;
    private readonly StepWindow _window;
    private readonly Func<double> _wallSeconds;
    private readonly long _totalSteps;
    private readonly Stopwatch _sinceFirst = new();
    private long _firstStep = -1;
    private double _loggedLoss;
    private long _loggedCorrect;
    private long _loggedSamples;
    private double _loggedSeconds;
    private double _finishedEpochSeconds;

    /// <param name="writeRow">Writes a metrics.csv step row; null: progress only.</param>
    /// <param name="wallSeconds">The run's wall clock for the rows.</param>
    public ActorProgressFeed(IProgressView view, WorkerTable table, Action<StepRow>? writeRow, int logEvery, PreparedData data, TrainingOptions training,
        Func<double> wallSeconds)
        : this(view, table, writeRow, logEvery, data.Train.Count, training, new StepWindow(data.Train.Task, data.TargetScaling, training.Optimizer.LearningRate), wallSeconds)
    {
    }

    /// <param name="window">What the step rows report besides the loss (an RBM: nothing).</param>
    public ActorProgressFeed(IProgressView view, WorkerTable table, Action<StepRow>? writeRow, int logEvery, int trainCount, TrainingOptions training,
        StepWindow window, Func<double> wallSeconds)
    {
        _view = view;
        _table = table;
        _writeRow = writeRow;
        _logEvery = logEvery;
        _epochs = training.Epochs;
        _window = window;
        _wallSeconds = wallSeconds;
        var batch = Math.Max(1, Math.Min(training.BatchSize, trainCount));
        _totalSteps = (long)((trainCount + batch - 1) / batch) * _epochs;
    }

    public void OnStep(TrainingProgress p)
    {
        var now = DateTimeOffset.UtcNow;
        var workers = new WorkerStatus[p.Workers.Count];
        for (var i = 0; i < workers.Length; i++)
        {
            var w = p.Workers[i];
            workers[i] = new WorkerStatus($"w{w.WorkerId}", w.Steps, TimeSpan.FromMilliseconds(w.MeanStepMs), w.LastSeen, w.Alive ? WorkerStatus.Training : WorkerStatus.Lost);
        }
        _table.Update(workers);

        if (_firstStep < 0)
        {
            _firstStep = p.Step - 1;
            _sinceFirst.Start();
        }
        var eta = TimeSpan.FromSeconds(_sinceFirst.Elapsed.TotalSeconds / Math.Max(1, p.Step - _firstStep) * Math.Max(0, _totalSteps - p.Step));
        var samples = Math.Max(1, p.EpochSamples);
        _view.Step(new StepProgress(p.Epoch, _epochs, p.StepInEpoch, p.StepsPerEpoch, p.EpochLoss / samples,
            _window.Metric == StepMetric.Accuracy ? (double)p.EpochCorrect / samples : null, p.EpochSeconds > 0 ? p.EpochSamples / p.EpochSeconds : 0, eta));

        if (_logEvery <= 0 || p.Step % _logEvery != 0)
        {
            return;
        }
        var seconds = _finishedEpochSeconds + p.EpochSeconds; // training time: the pauses for evaluation are left out
        _window.Add(p.TotalLoss - _loggedLoss, p.TotalCorrect - _loggedCorrect, p.TotalSamples - _loggedSamples, seconds - _loggedSeconds);
        (_loggedLoss, _loggedCorrect, _loggedSamples, _loggedSeconds) = (p.TotalLoss, p.TotalCorrect, p.TotalSamples, seconds);
        var row = _window.Close(p.Epoch, _epochs, p.Step, _totalSteps, _wallSeconds(), eta);
        _writeRow?.Invoke(row);
        _view.StepLogged(row, workers);
    }

    /// <summary>An epoch ended (after its last step's progress): shows its line.</summary>
    public void OnEpoch(EpochReport report)
    {
        _finishedEpochSeconds += report.Seconds;
        _view.EpochDone(report, _epochs);
    }

    /// <summary>As <see cref="OnEpoch(EpochReport)"/>, with a line of the caller's own format.</summary>
    public void OnEpoch(double trainingSeconds, string line)
    {
        _finishedEpochSeconds += trainingSeconds;
        _view.Line(line);
    }
}
