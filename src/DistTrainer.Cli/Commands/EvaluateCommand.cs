using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;
using DistTrainer.Cli.ModelFiles;
using DistTrainer.Numerics.Data;
using DistTrainer.Numerics.Training;

namespace DistTrainer.Cli.Commands;

/// <summary>`disttrainer evaluate`: a saved model's quality on a dataset.</summary>
public static class EvaluateCommand
{
    public static readonly OptionSpec[] Options =
    [
        new("model", "model file written by train (model.dtm in the run folder)"),
        new("data", "digits | iris | wine | breast_cancer | diabetes | PATH to a CSV file or a folder of IDX files"),
        new("split", "test | train | all", Default: "test for a named dataset or IDX folder (its held-out part), all for a CSV file"),
        new("threads", "compute threads for the matrix kernels", Default: "1"),
        new("seed", "RBM: seed of the pseudo-log-likelihood's random unit flips (train uses its --seed)", Default: "42"),
        new("json", "print one single-line JSON object instead of text", TakesValue: false),
        new("help", "show this help", TakesValue: false),
    ];

    public static int Run(IReadOnlyList<string> args)
    {
        var options = ParsedOptions.Parse("evaluate", args, Options);
        if (options.Flag("help"))
        {
            Console.WriteLine(ParsedOptions.Help("disttrainer evaluate --model FILE --data PATH|digits [--json]",
                "Reports accuracy and the confusion matrix (classification) or RMSE and R² (regression). For an RBM: reconstruction error and pseudo-log-likelihood, then the accuracy of its classifier when it has one.", Options));
            return 0;
        }
        options.NoPositionals();
        var modelPath = options.String("model") ?? throw new UsageException("evaluate needs --model FILE");
        var dataSpec = options.String("data") ?? throw new UsageException("evaluate needs --data PATH|digits");
        var isCsvFile = File.Exists(dataSpec) && !DatasetCatalog.KnownNames.Contains(dataSpec, StringComparer.OrdinalIgnoreCase);
        var split = options.Choice("split", isCsvFile ? "all" : "test",
            new Dictionary<string, string> { ["test"] = "test", ["train"] = "train", ["all"] = "all" });
        var threads = options.Int("threads", 1, min: 1, max: 256);

        var seed = options.Int("seed", 42);

        var model = TrainedModel.Load(modelPath);
        var data = Load(model, dataSpec, split);
        var evaluation = model.Model is null ? null : Classify(model, data, threads);
        (double ReconstructionError, double PseudoLogLikelihood)? rbm = model.Rbm is null ? null : MeasureRbm(model, data, seed, threads);
        if (options.Flag("json"))
        {
            var json = ToJson(model, data, split, evaluation);
            if (rbm is not null)
            {
                json["reconstruction_error"] = Summary.Number(rbm.Value.ReconstructionError);
                json["pseudo_log_likelihood"] = Summary.Number(rbm.Value.PseudoLogLikelihood);
            }
            Console.Out.WriteLine(json.ToJsonString());
        }
        else
        {
            if (rbm is { } q)
            {
                Console.Out.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"model {model.Spec} (trained on {model.DatasetName}); {data.Name}, {split} split, {data.Count} samples"));
                Console.Out.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"reconstruction error {q.ReconstructionError:F4}  pseudo-log-likelihood {q.PseudoLogLikelihood:F2}"));
                if (evaluation is null)
                {
                    Console.Out.WriteLine("no classifier: the RBM was trained on data without class labels");
                }
            }
            if (evaluation is not null)
            {
                Console.Out.Write(ToText(model, data, split, evaluation, header: rbm is null));
            }
        }
        return 0;
    }

    /// <summary>Accuracy or RMSE of the model's outputs on <paramref name="dataSpec"/>; an RBM model must have a classifier.</summary>
    public static (Dataset Data, Evaluation Evaluation) Evaluate(TrainedModel model, string dataSpec, string split, int threads = 1)
    {
        var data = Load(model, dataSpec, split);
        return (data, Classify(model, data, threads));
    }

    /// <summary>The classifier (or MLP) evaluated on prepared rows; an RBM's classifier sees its hidden-unit probabilities.</summary>
    public static Evaluation Classify(TrainedModel model, Dataset prepared, int threads = 1)
    {
        var network = model.Model ?? throw new InvalidOperationException("this RBM has no classifier");
        var input = model.Rbm is { } rbm ? RbmPipeline.HiddenFeatures(rbm.Model, rbm.Weights, prepared, threads) : prepared;
        return Evaluator.Evaluate(network, model.Weights, input, model.TargetScaling, threads);
    }

    /// <summary>Mean-field reconstruction error and pseudo-log-likelihood of an RBM model on prepared (min-max scaled) rows.</summary>
    public static (double ReconstructionError, double PseudoLogLikelihood) MeasureRbm(TrainedModel model, Dataset prepared, int seed, int threads = 1)
    {
        var rbm = model.Rbm ?? throw new InvalidOperationException("not an RBM model");
        var workspace = rbm.Model.CreateWorkspace(256, threads);
        return (rbm.Model.ReconstructionError(rbm.Weights, prepared.Features, prepared.Count, workspace),
            rbm.Model.PseudoLogLikelihood(rbm.Weights, prepared.Features, prepared.Count, seed, workspace));
    }

    /// <summary>The requested split of <paramref name="dataSpec"/>, columns matched to the model's features and scaled like its training data.</summary>
    public static Dataset Load(TrainedModel model, string dataSpec, string split)
    {
        var loaded = DatasetCatalog.Load(dataSpec, model.LabelName, model.Task);
        var raw = split switch
        {
            "train" => loaded.Train,
            "test" => loaded.Test,
            _ => Concat(loaded.Train, loaded.Test, loaded.Name),
        };
        return ModelInput.Prepare(model, raw);
    }

    private static Dataset Concat(Dataset a, Dataset b, string name) =>
        new(name, a.FeatureNames, a.LabelName, a.Task, Math.Max(a.ClassCount, b.ClassCount), [.. a.Features, .. b.Features], [.. a.Targets, .. b.Targets]);

    private static JsonObject ToJson(TrainedModel model, Dataset data, string split, Evaluation? e)
    {
        var json = new JsonObject
        {
            ["model"] = model.Spec.ToString(),
            ["dataset"] = data.Name,
            ["split"] = split,
            ["samples"] = data.Count,
        };
        if (e is null)
        {
            return json;
        }
        json["loss"] = Summary.Number(e.Loss);
        if (e.Confusion is { } confusion)
        {
            json["accuracy"] = Summary.Number(e.Accuracy);
            json["classes"] = new JsonArray([.. model.ClassNames.Select(c => (JsonNode)JsonValue.Create(c))]);
            json["confusion"] = new JsonArray([.. confusion.Select(row => (JsonNode)new JsonArray([.. row.Select(v => (JsonNode)JsonValue.Create(v))]))]);
        }
        else
        {
            json["rmse"] = Summary.Number(e.Rmse);
            json["r2"] = Summary.Number(e.R2);
        }
        return json;
    }

    private static string ToText(TrainedModel model, Dataset data, string split, Evaluation e, bool header)
    {
        var text = new StringBuilder();
        if (header)
        {
            text.AppendLine(CultureInfo.InvariantCulture, $"model {model.Spec} (trained on {model.DatasetName}); {data.Name}, {split} split, {data.Count} samples");
        }
        if (e.Confusion is not { } confusion)
        {
            text.AppendLine(string.Create(CultureInfo.InvariantCulture, $"RMSE {e.Rmse:F4}  R² {e.R2:F4}  MSE (standardized) {e.Loss:F4}"));
            return text.ToString();
        }
        text.AppendLine(string.Create(CultureInfo.InvariantCulture, $"accuracy {e.Accuracy:F4}  loss {e.Loss:F4}"));
        text.AppendLine("confusion matrix (rows: true class, columns: predicted class):");
        var width = Math.Max(model.ClassNames.Max(c => c.Length), confusion.Max(row => row.Max()).ToString(CultureInfo.InvariantCulture).Length) + 1;
        text.Append(new string(' ', width + 1));
        foreach (var name in model.ClassNames)
        {
            text.Append(name.PadLeft(width));
        }
        text.AppendLine();
        for (var t = 0; t < confusion.Length; t++)
        {
            text.Append(model.ClassNames[t].PadLeft(width)).Append(' ');
            foreach (var count in confusion[t])
            {
                text.Append(count.ToString(CultureInfo.InvariantCulture).PadLeft(width));
            }
            text.AppendLine();
        }
        return text.ToString();
    }
}
