using System.Globalization;
using System.Text.Json.Nodes;
using DistTrainer.Actors.Messages;
using DistTrainer.Cli.Commands;
using DistTrainer.Cli.ModelFiles;
using DistTrainer.Cli.Run;
using DistTrainer.Numerics.Data;
using DistTrainer.Numerics.Models;
using DistTrainer.Numerics.Optimizers;
using DistTrainer.Numerics.Training;

namespace DistTrainer.Cli.Tests.RunFiles;

public sealed class RbmRunFileTests : IDisposable
{
    private readonly TempFolder _folder = new();

    public void Dispose() => _folder.Dispose();

    private static readonly Dataset _raw = DatasetCatalog.Load("digits").Train;
    private static readonly Dataset _rawTest = DatasetCatalog.Load("digits").Test;
    private static readonly MinMaxScaler _scaler = MinMaxScaler.Fit(_raw);

    /// <summary>Trains a small RBM on digits in the plain loop, or with <paramref name="workers"/> sync workers as `train --workers N` does.</summary>
    private static RbmRunOutcome Train(string dir, int epochs, int checkpointEvery = 0, long? stopAfterStep = null, Checkpoint? resume = null,
        bool persistent = false, int workers = 0)
    {
        Directory.CreateDirectory(dir);
        var train = _scaler.Apply(_raw);
        var test = _scaler.Apply(_rawTest);
        var training = new TrainingOptions(epochs, 10, new OptimizerOptions(OptimizerKind.Sgd, 0.06f), Seed: 3, Threads: 1);
        var pipeline = new RbmPipelineOptions { Hidden = 16, Epochs = epochs, Seed = 3, Rbm = new RbmOptions(PersistentChains: persistent ? train.Count : 0) };
        var model = new Rbm(Rbm.CreateSpec(train.FeatureCount, 16), pipeline.Rbm with { Seed = 3 });
        var settings = new RunSettings(dir, LogEvery: 20, CheckpointEvery: checkpointEvery) { StopAfterStep = stopAfterStep };
        using var view = new PlainProgressView(TextWriter.Null);
        var context = new RbmRunContext(model, train, test, _scaler, "digits", training, pipeline, new Dictionary<string, string> { ["model"] = "rbm" }, settings, view);
        return workers == 0
            ? RbmTrainingRun.Execute(context, resume)
            : RbmRun.TrainDistributed(context, new SimulationSettings(workers, TrainingMode.Sync, [], []), resume, new WorkerTable());
    }

    [Fact]
    public void Persistent_cd_run_resumed_mid_epoch_should_continue_its_chains_to_the_weights_of_an_uninterrupted_run()
    {
        var whole = Train(Path.Combine(_folder.Path, "whole"), epochs: 2, persistent: true);
        var dir = Path.Combine(_folder.Path, "resumed");
        Train(dir, epochs: 2, checkpointEvery: 50, stopAfterStep: 210, persistent: true);
        var checkpoint = Checkpoint.Load(Path.Combine(dir, Checkpoint.FileName));
        Assert.Equal(200, checkpoint.Step);
        Assert.Equal(_raw.Count * 16, checkpoint.PersistentChains.Length);
        Assert.DoesNotContain(false, checkpoint.ChainStarted); // one chain per sample: every chain ran in epoch 1

        var resumed = Train(dir, epochs: 2, resume: checkpoint, persistent: true);

        Assert.True(whole.Weights.AsSpan().SequenceEqual(resumed.Weights), "the resumed PCD run differs from the uninterrupted one");
        // The chains are what made it exact: restarting them from the data, as before they were checkpointed, ends elsewhere.
        checkpoint.ChainStarted = new bool[checkpoint.ChainStarted.Length];
        var restarted = Train(Path.Combine(_folder.Path, "restarted"), epochs: 2, resume: checkpoint, persistent: true);
        Assert.False(whole.Weights.AsSpan().SequenceEqual(restarted.Weights), "resuming without the chains should not reach the same weights");
    }

    [Fact]
    public void Rbm_run_with_sync_workers_resumed_mid_epoch_should_end_with_exactly_the_uninterrupted_weights_and_epoch_rows()
    {
        var wholeDir = Path.Combine(_folder.Path, "whole");
        var whole = Train(wholeDir, epochs: 2, checkpointEvery: 50, workers: 2);
        var dir = Path.Combine(_folder.Path, "resumed");
        var stopped = Train(dir, epochs: 2, checkpointEvery: 50, stopAfterStep: 200, workers: 2);
        Assert.True(stopped.Stopped);
        var checkpoint = Checkpoint.Load(Path.Combine(dir, Checkpoint.FileName));
        Assert.Equal((200L, 1, 550), (checkpoint.Step, checkpoint.Epoch, checkpoint.Cursor)); // 145 steps of 10 per epoch

        var resumed = Train(dir, epochs: 2, checkpointEvery: 50, resume: checkpoint, workers: 2);

        Assert.False(resumed.Stopped);
        Assert.True(whole.Weights.AsSpan().SequenceEqual(resumed.Weights), "resumed weights differ from the uninterrupted run");
        Assert.Equal(whole.Last with { FitSeconds = 0 }, resumed.Last with { FitSeconds = 0 });
        Assert.Equal([_raw.Count, _raw.Count], resumed.SamplesSeenPerEpoch!);
        Assert.Equal(2, resumed.Epochs);
        Assert.Equal(EpochRows(wholeDir), EpochRows(dir));
        Assert.Equal(RbmMetricsCsv.Header, File.ReadLines(Path.Combine(dir, MetricsCsv.FileName)).First());
        Assert.Contains(File.ReadLines(Path.Combine(dir, MetricsCsv.FileName)), l => l.StartsWith("step,2,220,", StringComparison.Ordinal));
        Assert.True(File.Exists(Path.Combine(dir, TrainingRun.CurvesFileName)));
        var last = Checkpoint.Load(Path.Combine(dir, Checkpoint.FileName));
        Assert.Equal((2, 0), (last.Epoch, last.Cursor));
        Assert.True(last.Model.Weights.AsSpan().SequenceEqual(resumed.Weights));
    }

    [Fact]
    public void Rbm_checkpoint_of_the_plain_loop_should_resume_with_workers_to_the_plain_result_up_to_rounding()
    {
        var plain = Train(Path.Combine(_folder.Path, "plain"), epochs: 2);
        var dir = Path.Combine(_folder.Path, "mixed");
        Train(dir, epochs: 2, checkpointEvery: 50, stopAfterStep: 160);
        var checkpoint = Checkpoint.Load(Path.Combine(dir, Checkpoint.FileName));

        var resumed = Train(dir, epochs: 2, resume: checkpoint, workers: 2);

        var diff = plain.Weights.Zip(resumed.Weights).Max(p => Math.Abs(p.First - p.Second));
        Assert.True(diff <= 1e-5f, $"max abs diff {diff}"); // two workers' gradient sums round unlike the whole batch's
    }

    /// <summary>The epoch rows of metrics.csv without the timing columns.</summary>
    private static List<string> EpochRows(string dir) =>
        File.ReadLines(Path.Combine(dir, MetricsCsv.FileName)).Where(l => l.StartsWith("epoch,", StringComparison.Ordinal))
            .Select(l => l.Split(',')).Select(f => string.Join(',', f[..7].Concat(f[9..]))).ToList();

    [Fact]
    public void Rbm_run_resumed_mid_epoch_should_end_with_the_weights_and_metrics_of_an_uninterrupted_run()
    {
        var whole = Train(Path.Combine(_folder.Path, "whole"), epochs: 2);
        var dir = Path.Combine(_folder.Path, "resumed");
        var stopped = Train(dir, epochs: 2, checkpointEvery: 50, stopAfterStep: 210);
        Assert.True(stopped.Stopped);

        var checkpoint = Checkpoint.Load(Path.Combine(dir, Checkpoint.FileName));
        Assert.Equal(200, checkpoint.Step);
        Assert.Equal(1, checkpoint.Epoch);
        var resumed = Train(dir, epochs: 2, resume: checkpoint);

        Assert.True(whole.Weights.AsSpan().SequenceEqual(resumed.Weights));
        Assert.Equal(whole.Last, resumed.Last with { FitSeconds = whole.Last.FitSeconds });
        var epochRows = File.ReadLines(Path.Combine(dir, MetricsCsv.FileName)).Where(l => l.StartsWith("epoch,", StringComparison.Ordinal)).ToArray();
        Assert.Equal(2, epochRows.Length);
        Assert.Equal(RbmMetricsCsv.Header, File.ReadLines(Path.Combine(dir, MetricsCsv.FileName)).First());
    }

    [Fact]
    public void Rbm_model_file_should_round_trip_the_rbm_scaler_and_classifier_and_predict_like_the_in_memory_pipeline()
    {
        var outcome = Train(Path.Combine(_folder.Path, "run"), epochs: 1);
        var train = _scaler.Apply(_raw);
        var test = _scaler.Apply(_rawTest);
        var rbm = new Rbm(Rbm.CreateSpec(64, 16));
        var classifier = RbmPipeline.FitClassifier(rbm, outcome.Weights, train, test, new RbmPipelineOptions { ClassifierEpochs = 20, Seed = 3 });
        var model = TrainedModel.FromRbm("digits", train, _scaler, rbm, outcome.Weights, classifier.Model, classifier.Weights);

        var loaded = TrainedModel.FromBytes(model.ToBytes(), "memory");

        Assert.Equal(rbm.Spec, loaded.Spec);
        Assert.True(outcome.Weights.AsSpan().SequenceEqual(loaded.Rbm!.Weights));
        Assert.True(classifier.Weights.AsSpan().SequenceEqual(loaded.Weights));
        var scaler = Assert.IsType<MinMaxScaler>(loaded.Scaler);
        Assert.True(_scaler.Min.AsSpan().SequenceEqual(scaler.Min));
        Assert.Equal(10, loaded.ClassCount);
        var probabilities = loaded.Predict(_rawTest.Features, _rawTest.Count);
        var correct = Enumerable.Range(0, _rawTest.Count).Count(r => Evaluator.ArgMax(probabilities.AsSpan(r * 10, 10)) == (int)_rawTest.Targets[r]);
        Assert.Equal(classifier.Test.Accuracy!.Value, (double)correct / _rawTest.Count, 12);
        var (_, evaluation) = EvaluateCommand.Evaluate(loaded, "digits", "test");
        Assert.Equal(classifier.Test.Accuracy, evaluation.Accuracy);
    }

    [Fact]
    public void Rbm_model_file_without_a_classifier_should_load_and_report_that_it_cannot_classify()
    {
        var outcome = Train(Path.Combine(_folder.Path, "run"), epochs: 1);
        var rbm = new Rbm(Rbm.CreateSpec(64, 16));
        var model = TrainedModel.FromRbm("digits", _scaler.Apply(_raw), _scaler, rbm, outcome.Weights, null, []);

        var loaded = TrainedModel.FromBytes(model.ToBytes(), "memory");

        Assert.Null(loaded.Model);
        Assert.Equal(0, loaded.ClassCount);
        var prepared = ModelInput.Prepare(loaded, _rawTest);
        var (reconstruction, pll) = EvaluateCommand.MeasureRbm(loaded, prepared, seed: 3);
        Assert.Equal(outcome.Last.TestReconstructionError, reconstruction, 12);
        Assert.Equal(outcome.Last.TestPseudoLogLikelihood, pll, 12);
    }

    [Fact]
    public void Rbm_model_file_with_a_wrong_classifier_length_should_be_a_one_line_error()
    {
        var outcome = Train(Path.Combine(_folder.Path, "run"), epochs: 1);
        var rbm = new Rbm(Rbm.CreateSpec(64, 16));
        var content = TrainedModel.FromRbm("digits", _scaler.Apply(_raw), _scaler, rbm, outcome.Weights, null, []).ToContent();
        content.Outputs = 10;
        content.ClassNames = [.. Enumerable.Range(0, 10).Select(i => i.ToString(CultureInfo.InvariantCulture))];
        content.ClassifierWeights = new float[7];

        var e = Assert.Throws<ModelFileException>(() => TrainedModel.FromContent(content, "m.dtm"));
        Assert.Equal("m.dtm: corrupt model: 7 classifier weights, softmax 16→10 needs 170", e.Message);
    }

    [Fact]
    public async Task Train_model_rbm_with_out_should_write_the_run_folder_and_evaluate_and_predict_should_use_its_model()
    {
        var dir = Path.Combine(_folder.Path, "cli");
        var train = await DistTrainerProcess.RunAsync("train", "--model", "rbm", "--hidden", "20", "--epochs", "2", "--out", dir, "--json", "--quiet");
        Assert.True(train.ExitCode == 0, train.ToString());
        foreach (var file in new[] { MetricsCsv.FileName, TrainingRun.SummaryFileName, TrainingRun.CurvesFileName, Checkpoint.FileName, TrainingRun.ModelFileName })
        {
            Assert.True(File.Exists(Path.Combine(dir, file)), $"missing {file}");
        }
        var summary = JsonNode.Parse(train.StandardOutputLines[^1])!.AsObject();
        Assert.Equal(summary.ToJsonString(), JsonNode.Parse(File.ReadAllText(Path.Combine(dir, TrainingRun.SummaryFileName)))!.ToJsonString());

        var evaluate = await DistTrainerProcess.RunAsync("evaluate", "--model", Path.Combine(dir, TrainingRun.ModelFileName), "--data", "digits", "--json");
        Assert.True(evaluate.ExitCode == 0, evaluate.ToString());
        var json = JsonNode.Parse(evaluate.StandardOutputLines[^1])!;
        Assert.Equal((double)summary["test_accuracy"]!, (double)json["accuracy"]!);
        Assert.Equal((double)summary["reconstruction_error"]!, (double)json["reconstruction_error"]!);
        Assert.Equal((double)summary["pseudo_log_likelihood"]!, (double)json["pseudo_log_likelihood"]!);

        var input = _folder.Write("rows.csv", string.Join(',', _rawTest.FeatureNames) + "\n" + string.Join(',', _rawTest.Row(0).ToArray().Select(v => v.ToString("R", CultureInfo.InvariantCulture))) + "\n");
        var predict = await DistTrainerProcess.RunAsync("predict", "--model", Path.Combine(dir, TrainingRun.ModelFileName), "--input", input);
        Assert.True(predict.ExitCode == 0, predict.ToString());
        Assert.Equal(["label,probability"], predict.StandardOutputLines.Take(1));
        Assert.Equal(2, predict.StandardOutputLines.Length);
    }
}
