using System.Globalization;
using System.Text;

namespace DistTrainer.Cli.Run;

/// <summary>
/// metrics.csv of a run: one "step" row every N optimizer steps (mean training loss, accuracy or RMSE, and samples/s
/// since the previous row, measured in the training steps' own forward passes) and one "epoch" row per epoch (mean
/// training loss of the epoch, train accuracy or RMSE of the weights at the epoch's end, and the test metrics).
/// </summary>
public sealed class MetricsCsv : IDisposable
{
    public const string FileName = "metrics.csv";
    public const string Header = "kind,epoch,step,loss,accuracy,rmse,learning_rate,samples_per_second,wall_seconds,test_loss,test_accuracy,test_rmse,test_r2";

    private readonly StreamWriter _writer;

    private MetricsCsv(StreamWriter writer) => _writer = writer;

    /// <summary>
    /// Opens the file for appending. On resume, rows written after the checkpoint (<paramref name="keepUpToStep"/>) are
    /// dropped: the resumed run writes them again.
    /// </summary>
    public static MetricsCsv Open(string path, long? keepUpToStep)
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
        writer.WriteLine(Header);
        foreach (var line in kept)
        {
            writer.WriteLine(line);
        }
        writer.Flush();
        return new MetricsCsv(writer);
    }

    public void Step(StepRow r) =>
        Write("step", r.Epoch, r.Step, r.Loss, r.Accuracy, r.Rmse, r.LearningRate, r.SamplesPerSecond, r.WallSeconds, null, null, null, null);

    public void Epoch(long step, double learningRate, double wallSeconds, Commands.EpochReport r) =>
        Write("epoch", r.Epoch, step, r.TrainLoss, r.Train?.Accuracy, r.Train?.Rmse, learningRate, r.SamplesPerSecond, wallSeconds,
            r.Test.Loss, r.Test.Accuracy, r.Test.Rmse, r.Test.R2);

    /// <summary>Epoch rows of an existing metrics.csv as curve points, e.g. to redraw curves.png after a resume.</summary>
    public static List<CurvePoint> ReadCurve(string path, bool regression)
    {
        var points = new List<CurvePoint>();
        if (!File.Exists(path))
        {
            return points;
        }
        foreach (var line in File.ReadLines(path).Skip(1))
        {
            var f = line.Split(',');
            if (f.Length < 13 || f[0] != "epoch")
            {
                continue;
            }
            points.Add(new CurvePoint(
                int.Parse(f[1], CultureInfo.InvariantCulture), Parse(f[3]), Parse(f[9]),
                regression ? Parse(f[5]) : Parse(f[4]), regression ? Parse(f[11]) : Parse(f[10])));
        }
        return points;
    }

    public void Dispose() => _writer.Dispose();

    private void Write(string kind, int epoch, long step, params double?[] values)
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

    private static double Parse(string field) =>
        double.TryParse(field, NumberStyles.Float, CultureInfo.InvariantCulture, out var v) ? v : double.NaN;
}
