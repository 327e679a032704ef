using System.Globalization;
using System.Text;
using DistTrainer.Cli.Commands;
using Spectre.Console;
using Spectre.Console.Rendering;

namespace DistTrainer.Cli.Run;

/// <summary>What one worker of a simulated or real cluster has done, as shown in the live worker table.</summary>
public sealed record WorkerStatus(string Id, long Steps, TimeSpan MeanStepTime, DateTimeOffset LastSeen, string State = WorkerStatus.Training)
{
    public const string Training = "training";
    public const string Lost = "lost";
}

/// <summary>
/// A run with workers implements this so the live view can show them. Called from the rendering thread about ten
/// times a second, so it must be thread-safe and cheap (return a snapshot).
/// </summary>
public interface IWorkerStatusSource
{
    IReadOnlyList<WorkerStatus> Snapshot();
}

/// <summary>
/// Position within the run after an optimizer step: the epoch's running mean loss and training accuracy (null for
/// regression), its samples/s, and the estimated time to the end of the run.
/// </summary>
public readonly record struct StepProgress(
    int Epoch, int Epochs, int StepInEpoch, int StepsPerEpoch, double Loss, double? Accuracy, double SamplesPerSecond, TimeSpan Eta);

/// <summary>How a training run shows progress: plain log lines, a live terminal view, or nothing.</summary>
public interface IProgressView : IDisposable
{
    void Line(string text);

    /// <summary>After every step, or as often as the run reports; cheap (the live view only stores it).</summary>
    void Step(in StepProgress progress);

    /// <summary>A metrics.csv step row was written (every --log-every steps): plain output prints it as a line.</summary>
    void StepLogged(in StepRow row, IReadOnlyList<WorkerStatus> workers);

    void EpochDone(EpochReport report, int epochs);

    /// <summary>
    /// A terminal gets the live view; redirected output gets plain lines (a step line per metrics row, one line per
    /// epoch), so logs stay stable and greppable. Progress goes to stdout, or to stderr when stdout carries the
    /// result (--json) or the program is a cluster node.
    /// </summary>
    public static IProgressView Create(bool quiet, bool onStandardError, IWorkerStatusSource? workers = null)
    {
        if (quiet)
        {
            return new PlainProgressView(TextWriter.Null);
        }
        var writer = onStandardError ? Console.Error : Console.Out;
        var redirected = onStandardError ? Console.IsErrorRedirected : Console.IsOutputRedirected;
        var dumb = string.Equals(Environment.GetEnvironmentVariable("TERM"), "dumb", StringComparison.Ordinal);
        return redirected || dumb ? new PlainProgressView(writer) : new LiveProgressView(writer, workers);
    }
}

/// <summary>
/// Plain lines, the format scripts and CI logs rely on (README, "Progress output"): a "step" line for each metrics.csv
/// step row and an "epoch" line per epoch.
/// </summary>
public sealed class PlainProgressView(TextWriter writer) : IProgressView
{
    public void Line(string text) => writer.WriteLine(text);

    public void Step(in StepProgress progress) { }

    public void StepLogged(in StepRow row, IReadOnlyList<WorkerStatus> workers) => writer.WriteLine(FormatStep(row, workers, DateTimeOffset.UtcNow));

    public void EpochDone(EpochReport report, int epochs) => writer.WriteLine(report.Format(epochs));

    public void Dispose() => writer.Flush();

    /// <summary>
    /// <c>step S/T  epoch E/N  loss L  acc A|rmse R  samples/s X  eta M:SS[  workers wI:STEPS:MEANms:SEENs[:lost] ...]</c>;
    /// loss, accuracy/RMSE and samples/s are the window since the previous step line, as in metrics.csv.
    /// </summary>
    public static string FormatStep(in StepRow row, IReadOnlyList<WorkerStatus> workers, DateTimeOffset now)
    {
        var line = new StringBuilder();
        line.Append(CultureInfo.InvariantCulture, $"step {row.Step}/{row.TotalSteps}  epoch {row.Epoch}/{row.Epochs}  loss {row.Loss:F4}");
        if (row.Accuracy is { } accuracy)
        {
            line.Append(CultureInfo.InvariantCulture, $"  acc {accuracy:F4}");
        }
        else if (row.Rmse is { } rmse)
        {
            line.Append(CultureInfo.InvariantCulture, $"  rmse {rmse:F3}");
        }
        line.Append(CultureInfo.InvariantCulture, $"  samples/s {row.SamplesPerSecond:F0}  eta {FormatEta(row.Eta)}");
        if (workers.Count > 0)
        {
            line.Append("  workers");
            foreach (var w in workers)
            {
                var seen = Math.Max(0, (now - w.LastSeen).TotalSeconds);
                line.Append(CultureInfo.InvariantCulture, $" {w.Id}:{w.Steps}:{w.MeanStepTime.TotalMilliseconds:F1}ms:{seen:F1}s");
                if (w.State != WorkerStatus.Training)
                {
                    line.Append(':').Append(w.State);
                }
            }
        }
        return line.ToString();
    }

    public static string FormatEta(TimeSpan eta) =>
        eta.TotalHours >= 1 ? eta.ToString(@"h\:mm\:ss", CultureInfo.InvariantCulture) : eta.ToString(@"m\:ss", CultureInfo.InvariantCulture);
}

/// <summary>
/// Spectre.Console live view: a progress bar for the current epoch (loss, last accuracy, samples/s, ETA) and, when the
/// run has workers, a table of them. Rendering runs on its own thread so the training loop only updates numbers;
/// finished epochs are printed as permanent lines above the live area.
/// </summary>
public sealed class LiveProgressView : IProgressView
{
    private static readonly TimeSpan _refresh = TimeSpan.FromMilliseconds(100);
    private readonly IAnsiConsole _console;
    private readonly IWorkerStatusSource? _workers;
    private readonly Lock _lock = new();
    private StepProgress _progress;
    private string _lastMetric = "";
    private Thread? _renderer;
    private readonly AutoResetEvent _wake = new(false);
    private volatile bool _stop;

    public LiveProgressView(TextWriter writer, IWorkerStatusSource? workers)
    {
        _console = AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(writer) });
        _workers = workers;
    }

    public void Line(string text)
    {
        StopRenderer();
        _console.WriteLine(text);
    }

    public void Step(in StepProgress progress)
    {
        lock (_lock)
        {
            _progress = progress;
        }
        if (_renderer is null)
        {
            StartRenderer();
        }
    }

    public void StepLogged(in StepRow row, IReadOnlyList<WorkerStatus> workers) { }

    public void EpochDone(EpochReport report, int epochs)
    {
        StopRenderer();
        _console.WriteLine(report.Format(epochs));
        _lastMetric = report.Test.Accuracy is { } accuracy
            ? string.Create(CultureInfo.InvariantCulture, $"test acc {accuracy:F4}")
            : string.Create(CultureInfo.InvariantCulture, $"test rmse {report.Test.Rmse:F3}");
    }

    public void Dispose()
    {
        StopRenderer();
        _wake.Dispose();
    }

    private void StartRenderer()
    {
        _stop = false;
        _renderer = new Thread(() => _console.Live(Build()).AutoClear(true).Overflow(VerticalOverflow.Ellipsis).Start(context =>
        {
            while (!_stop)
            {
                context.UpdateTarget(Build());
                context.Refresh();
                _wake.WaitOne(_refresh); // woken at once when stopped, so an epoch end never waits a refresh
            }
        }))
        { IsBackground = true, Name = "progress" };
        _renderer.Start();
    }

    private void StopRenderer()
    {
        if (_renderer is null)
        {
            return;
        }
        _stop = true;
        _wake.Set();
        _renderer.Join();
        _renderer = null;
    }

    private IRenderable Build()
    {
        StepProgress p;
        lock (_lock)
        {
            p = _progress;
        }
        const int BarWidth = 20; // the whole line fits 80 columns
        var fraction = p.StepsPerEpoch > 0 ? Math.Clamp((double)p.StepInEpoch / p.StepsPerEpoch, 0, 1) : 0;
        var filled = (int)Math.Round(fraction * BarWidth);
        var bar = $"[green]{new string('━', filled)}[/][grey]{new string('━', BarWidth - filled)}[/]";
        var accuracy = p.Accuracy is { } a ? string.Create(CultureInfo.InvariantCulture, $"  acc {a:F4}") : "";
        var metric = _lastMetric.Length > 0 ? $"  {_lastMetric}" : "";
        var line = string.Create(CultureInfo.InvariantCulture,
            $"epoch {p.Epoch}/{p.Epochs} {bar} {fraction * 100,3:F0}%  loss {p.Loss:F4}{accuracy}{metric}  {p.SamplesPerSecond:N0} samples/s  ETA {PlainProgressView.FormatEta(p.Eta)}");
        var workers = _workers?.Snapshot();
        if (workers is null || workers.Count == 0)
        {
            return new Markup(line);
        }
        var table = new Table().Border(TableBorder.Simple).AddColumns("worker", "state", "steps", "step time", "last seen");
        var now = DateTimeOffset.UtcNow;
        foreach (var w in workers)
        {
            table.AddRow(
                Markup.Escape(w.Id), Markup.Escape(w.State), w.Steps.ToString("N0", CultureInfo.InvariantCulture),
                string.Create(CultureInfo.InvariantCulture, $"{w.MeanStepTime.TotalMilliseconds:F1} ms"),
                string.Create(CultureInfo.InvariantCulture, $"{Math.Max(0, (now - w.LastSeen).TotalSeconds):F1} s ago"));
        }
        return new Rows(new Markup(line), table);
    }
}
