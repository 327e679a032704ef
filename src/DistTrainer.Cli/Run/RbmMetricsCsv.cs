using System.Globalization;
using DistTrainer.Numerics.Training;

namespace DistTrainer.Cli.Run;

/// <summary>
/// metrics.csv of an RBM run: "step" rows every N optimizer steps (mean sampled reconstruction error since the previous
/// row) and one "epoch" row per epoch with the mean-field reconstruction error and pseudo-log-likelihood on the train
/// and test splits. Same file name and first columns as an MLP run's <see cref="MetricsCsv"/>.
/// </summary>
public sealed class RbmMetricsCsv : IMetricsCsv
{
    public const string Header = "kind,epoch,step,loss,reconstruction_error,pseudo_log_likelihood,learning_rate,samples_per_second,wall_seconds,test_reconstruction_error,test_pseudo_log_likelihood";

    private readonly MetricsFile _file;

    private RbmMetricsCsv(MetricsFile file) => _file = file;

    /// <summary>Opens the file; on resume, rows after the checkpoint's step (<paramref name="keepUpToStep"/>) are dropped and written again.</summary>
    public static RbmMetricsCsv Open(string path, long? keepUpToStep) => new(MetricsFile.Open(path, Header, keepUpToStep));

    public void Step(int epoch, long step, double loss, double learningRate, double samplesPerSecond, double wallSeconds) =>
        _file.Write("step", epoch, step, loss, null, null, learningRate, samplesPerSecond, wallSeconds, null, null);

    /// <summary>A step row from the actor protocol's progress; only its loss, samples/s and timing apply to an RBM.</summary>
    public void Step(StepRow r) => Step(r.Epoch, r.Step, r.Loss, r.LearningRate, r.SamplesPerSecond, r.WallSeconds);

    /// <summary>An epoch row; <paramref name="epoch"/> is 1-based.</summary>
    public void Epoch(int epoch, long step, double learningRate, double samplesPerSecond, double wallSeconds, RbmEpochMetrics m) =>
        _file.Write("epoch", epoch, step, m.TrainLoss, m.TrainReconstructionError, m.TrainPseudoLogLikelihood, learningRate, samplesPerSecond, wallSeconds,
            m.TestReconstructionError, m.TestPseudoLogLikelihood);

    /// <summary>An epoch the coordinator evaluated: its RBM metrics ride on the test evaluation.</summary>
    public void Epoch(long step, double learningRate, double wallSeconds, Commands.EpochReport r) =>
        Epoch(r.Epoch, step, learningRate, r.SamplesPerSecond, wallSeconds, r.Test.Rbm! with { TrainLoss = r.TrainLoss });

    /// <summary>Epoch rows as curve points: reconstruction error as the "loss", pseudo-log-likelihood as the metric.</summary>
    public static List<CurvePoint> ReadCurve(string path) =>
        MetricsFile.EpochRows(path, fields: 11).Select(f => new CurvePoint(
            int.Parse(f[1], CultureInfo.InvariantCulture), MetricsFile.Parse(f[4]), MetricsFile.Parse(f[9]), MetricsFile.Parse(f[5]), MetricsFile.Parse(f[10]))).ToList();

    public void Dispose() => _file.Dispose();
}
