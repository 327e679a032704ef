using System.Globalization;
using System.Text;

namespace DistTrainer.Cli.Run;

/// <summary>
/// metrics.csv of an RBM run: "step" rows every N optimizer steps (mean sampled reconstruction error since the previous
/// row) and one "epoch" row per epoch with the mean-field reconstruction error and pseudo-log-likelihood on the train
/// and test splits. Same file name and first columns as an MLP run's <see cref="MetricsCsv"/>.
/// </summary>
public sealed class RbmMetricsCsv : IDisposable
{
    public const string Header = "kind,epoch,step,loss,reconstruction_error,pseudo_log_likelihood,learning_rate,samples_per_second,wall_seconds,test_reconstruction_error,test_pseudo_log_likelihood";

    private readonly StreamWriter _writer;

    private RbmMetricsCsv(StreamWriter writer) => _writer = writer;

    /// <summary>Opens the file; on resume, rows after the checkpoint's step (<paramref name="keepUpToStep"/>) are dropped and written again.</summary>
    public static RbmMetricsCsv Open(string path, long? keepUpToStep)
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
        return new RbmMetricsCsv(writer);
    }

    public void Step(int epoch, long step, double loss, double learningRate, double samplesPerSecond, double wallSeconds) =>
        Write("step", epoch, step, loss, null, null, learningRate, samplesPerSecond, wallSeconds, null, null);

    /// <summary>An epoch row; <paramref name="epoch"/> is 1-based.</summary>
    public void Epoch(int epoch, long step, double learningRate, double samplesPerSecond, double wallSeconds, Numerics.Training.RbmEpochMetrics m) =>
        Write("epoch", epoch, step, m.TrainLoss, m.TrainReconstructionError, m.TrainPseudoLogLikelihood, learningRate, samplesPerSecond, wallSeconds,
            m.TestReconstructionError, m.TestPseudoLogLikelihood);

    /// <summary>Epoch rows as curve points: reconstruction error as the "loss", pseudo-log-likelihood as the metric.</summary>
    public static List<CurvePoint> ReadCurve(string path)
    {
        var points = new List<CurvePoint>();
        if (!File.Exists(path))
        {
            return points;
        }
        foreach (var line in File.ReadLines(path).Skip(1))
        {
            var f = line.Split(',');
            if (f.Length < 11 || f[0] != "epoch")
            {
                continue;
            }
            points.Add(new CurvePoint(int.Parse(f[1], CultureInfo.InvariantCulture), Parse(f[4]), Parse(f[9]), Parse(f[5]), Parse(f[10])));
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
