using System.Globalization;
using DistTrainer.Cli.Commands;
using Spectre.Console;
using Spectre.Console.Rendering;

namespace DistTrainer.Cli.Run;

/// <summary>What one worker of a simulated or real cluster has done, as shown in the live worker table.</summary>
public sealed record WorkerStatus(string Id, long Steps, TimeSpan MeanStepTime, DateTimeOffset LastSeen, string State = "training");

/// <summary>
/// A run with workers implements this so the live view can show them. Called from the rendering thread about ten
/// times a second, so it must be thread-safe and cheap (return a snapshot).
/// </summary>
public interface IWorkerStatusSource
{
    IReadOnlyList<WorkerStatus> Snapshot();
}

/// <summary>Position within the run after an optimizer step.</summary>
public readonly record struct StepProgress(
    int Epoch, int Epochs, int StepInEpoch, int StepsPerEpoch, double Loss, double SamplesPerSecond, TimeSpan Eta);

/// <summary>How a training run shows progress: plain log lines, a live terminal view, or nothing.</summary>
public interface IProgressView : IDisposable
{
    void Line(string text);

    void Step(in StepProgress progress);

    void EpochDone(EpochReport report, int epochs);

    /// <summary>
    /// A terminal gets the live view; redirected output gets plain lines, one per epoch, so logs stay stable and greppable.
    /// </summary>
    public static IProgressView Create(bool quiet, bool json, IWorkerStatusSource? workers = null)
    {
        if (quiet)
        {
            return new PlainProgressView(TextWriter.Null);
        }
        var writer = json ? Console.Error : Console.Out;
        var redirected = json ? Console.IsErrorRedirected : Console.IsOutputRedirected;
        var dumb = string.Equals(Environment.GetEnvironmentVariable("TERM"), "dumb", StringComparison.Ordinal);
        return redirected || dumb ? new PlainProgressView(writer) : new LiveProgressView(writer, workers);
    }
}

/// <summary>One line per epoch, the format scripts and CI logs rely on.</summary>
public sealed class PlainProgressView(TextWriter writer) : IProgressView
{
    public void Line(string text) => writer.WriteLine(text);

    public void Step(in StepProgress progress) { }

    public void EpochDone(EpochReport report, int epochs) => writer.WriteLine(report.Format(epochs));

    public void Dispose() => writer.Flush();
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

    public void EpochDone(EpochReport report, int epochs)
    {
        StopRenderer();
        _console.WriteLine(report.Format(epochs));
        _lastMetric = report.Test.Accuracy is { } accuracy
            ? string.Create(CultureInfo.InvariantCulture, $"test acc {accuracy:F4}")
            : string.Create(CultureInfo.InvariantCulture, $"test rmse {report.Test.Rmse:F3}");
    }

    public void Dispose() => StopRenderer();

    private void StartRenderer()
    {
        _stop = false;
        _renderer = new Thread(() => _console.Live(Build()).AutoClear(true).Overflow(VerticalOverflow.Ellipsis).Start(context =>
        {
            while (!_stop)
            {
                context.UpdateTarget(Build());
                context.Refresh();
                Thread.Sleep(_refresh);
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
        const int BarWidth = 30;
        var fraction = p.StepsPerEpoch > 0 ? Math.Clamp((double)p.StepInEpoch / p.StepsPerEpoch, 0, 1) : 0;
        var filled = (int)Math.Round(fraction * BarWidth);
        var bar = $"[green]{new string('━', filled)}[/][grey]{new string('━', BarWidth - filled)}[/]";
        var metric = _lastMetric.Length > 0 ? $"  {_lastMetric}" : "";
        var line = string.Create(CultureInfo.InvariantCulture,
            $"epoch {p.Epoch}/{p.Epochs} {bar} {fraction * 100,3:F0}%  loss {p.Loss:F4}{metric}  {p.SamplesPerSecond:N0} samples/s  ETA {FormatEta(p.Eta)}");
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

    private static string FormatEta(TimeSpan eta) =>
        eta.TotalHours >= 1 ? eta.ToString(@"h\:mm\:ss", CultureInfo.InvariantCulture) : eta.ToString(@"m\:ss", CultureInfo.InvariantCulture);
}
