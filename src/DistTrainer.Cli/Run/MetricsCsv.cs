using System.Globalization;
using System.Text;

namespace DistTrainer.Cli.Run;

/// <summary>The rows a run folder's metrics.csv takes, whatever the model: step rows and epoch rows.</summary>
public interface IMetricsCsv : IDisposable
{
    void Step(StepRow row);

    void Epoch(long step, double learningRate, double wallSeconds, Commands.EpochReport report);
}

/// <summary>
/// metrics.csv of a run: one "step" row every N optimizer steps (mean training loss, accuracy or RMSE, and samples/s
/// since the previous row, measured in the training steps' own forward passes) and one "epoch" row per epoch (mean
/// training loss of the epoch, train accuracy or RMSE of the weights at the epoch's end, and the test metrics).
/// </summary>
public sealed class MetricsCsv : IMetricsCsv
{
    public const string FileName = "metrics.csv";
    public const string Header = "kind,epoch,step,loss,accuracy,rmse,learning_rate,samples_per_second,wall_seconds,test_loss,test_accuracy,test_rmse,test_r2";

    private readonly MetricsFile _file;

    private MetricsCsv(MetricsFile file) => _file = file;

    /// <summary>
    /// Opens the file for appending. On resume, rows written after the checkpoint (<paramref name="keepUpToStep"/>) are
    /// dropped: the resumed run writes them again.
    /// </summary>
    public static MetricsCsv Open(string path, long? keepUpToStep) => new(MetricsFile.Open(path, Header, keepUpToStep));

    public void Step(StepRow r) =>
        _file.Write("step", r.Epoch, r.Step, r.Loss, r.Accuracy, r.Rmse, r.LearningRate, r.SamplesPerSecond, r.WallSeconds, null, null, null, null);

    public void Epoch(long step, double learningRate, double wallSeconds, Commands.EpochReport r) =>
        _file.Write("epoch", r.Epoch, step, r.TrainLoss, r.Train?.Accuracy, r.Train?.Rmse, learningRate, r.SamplesPerSecond, wallSeconds,
            r.Test.Loss, r.Test.Accuracy, r.Test.Rmse, r.Test.R2);

    /// <summary>Epoch rows of an existing metrics.csv as curve points, e.g. to redraw curves.png after a resume.</summary>
    public static List<CurvePoint> ReadCurve(string path, bool regression) =>
        MetricsFile.EpochRows(path, fields: 13).Select(f => new CurvePoint(
            int.Parse(f[1], CultureInfo.InvariantCulture), MetricsFile.Parse(f[3]), MetricsFile.Parse(f[9]),
            regression ? MetricsFile.Parse(f[5]) : MetricsFile.Parse(f[4]), regression ? MetricsFile.Parse(f[11]) : MetricsFile.Parse(f[10]))).ToList();

    public void Dispose() => _file.Dispose();
}

/// <summary>
/// What the MLP's and the RBM's metrics.csv share: the header, the rows kept on resume, one flushed line per row with
/// invariant numbers and an empty field for a missing or non-finite value.
/// </summary>
internal sealed class MetricsFile : IDisposable
{
    private readonly StreamWriter _writer;

    private MetricsFile(StreamWriter writer) => _writer = writer;

    /// <summary>Opens the file; on resume, rows after the checkpoint's step (<paramref name="keepUpToStep"/>) are dropped and written again.</summary>
    public static MetricsFile Open(string path, string header, long? keepUpToStep)
    {
        var kept = new List<string>();
        if (keepUpToStep is { } lastStep && File.Exists(path))
        {
            foreach (var line in File.ReadLines(path).Skip(1))
            {
                var fields = line.Split(',');
                if (fields.Length > 2 && long.TryParse(fields[2], NumberStyles.Integer, CultureInfo.InvariantCulture, out var step) && step <= lastStep)
                {
                    kept.Add(line);
                }
            }
        }
        var writer = new StreamWriter(path, append: false, new UTF8Encoding(false)) { NewLine = "\n" };
        writer.WriteLine(header);
        foreach (var line in kept)
        {
            writer.WriteLine(line);
        }
        writer.Flush();
        return new MetricsFile(writer);
    }

    public void Write(string kind, int epoch, long step, params double?[] values)
    {
        var line = new StringBuilder(kind).Append(',').Append(epoch.ToString(CultureInfo.InvariantCulture))
            .Append(',').Append(step.ToString(CultureInfo.InvariantCulture));
        foreach (var v in values)
        {
            line.Append(',');
            if (v is { } x && double.IsFinite(x))
            {
                line.Append(x.ToString("G7", CultureInfo.InvariantCulture));
            }
        }
        _writer.WriteLine(line.ToString());
        _writer.Flush();
    }

    /// <summary>The fields of each "epoch" row with at least <paramref name="fields"/> columns; none when the file is missing.</summary>
    public static IEnumerable<string[]> EpochRows(string path, int fields) =>
        !File.Exists(path) ? [] : File.ReadLines(path).Skip(1).Select(l => l.Split(',')).Where(f => f.Length >= fields && f[0] == "epoch");

    public static double Parse(string field) =>
        double.TryParse(field, NumberStyles.Float, CultureInfo.InvariantCulture, out var v) ? v : double.NaN;

    public void Dispose() => _writer.Dispose();
}
