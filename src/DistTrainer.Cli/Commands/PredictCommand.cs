using System.Globalization;
using System.Text;
using DistTrainer.Cli.ModelFiles;
using DistTrainer.Numerics.Data;
using DistTrainer.Numerics.Training;

namespace DistTrainer.Cli.Commands;

/// <summary>`disttrainer predict`: apply a saved model to the rows of a CSV file.</summary>
public static class PredictCommand
{
    public static readonly OptionSpec[] Options =
    [
        new("model", "model file written by train (model.dtm in the run folder)"),
        new("input", "CSV file with a header; feature columns are matched by name, a label column is ignored"),
        new("output", "write the predictions to this file", Default: "standard output"),
        new("threads", "compute threads for the matrix kernels", Default: "1"),
        new("help", "show this help", TakesValue: false),
    ];

    public static int Run(IReadOnlyList<string> args)
    {
        var options = ParsedOptions.Parse("predict", args, Options);
        if (options.Flag("help"))
        {
            Console.WriteLine(ParsedOptions.Help("disttrainer predict --model FILE --input CSV [--output PATH]",
                "Prints one line per input row after a header: the predicted class and its probability, or the predicted value.", Options));
            return 0;
        }
        options.NoPositionals();
        var modelPath = options.String("model") ?? throw new UsageException("predict needs --model FILE");
        var inputPath = options.String("input") ?? throw new UsageException("predict needs --input CSV");
        var threads = options.Int("threads", 1, min: 1, max: 256);
        var model = TrainedModel.Load(modelPath);
        if (model.Model is null)
        {
            throw new UsageException($"{modelPath}: this RBM was trained on data without class labels, so it has no classifier to predict with; `disttrainer evaluate` reports its reconstruction error and pseudo-log-likelihood");
        }
        var rows = ModelInput.ReadRows(model, inputPath, out var count);
        var lines = Format(model, model.Predict(rows, count, threads), count);
        var output = options.String("output");
        if (output is null)
        {
            foreach (var line in lines)
            {
                Console.Out.WriteLine(line);
            }
        }
        else
        {
            File.WriteAllLines(output, lines, new UTF8Encoding(false));
        }
        return 0;
    }

    /// <summary>The output table: "class,probability" per row for classification, "value" per row for regression.</summary>
    public static List<string> Format(TrainedModel model, float[] outputs, int count)
    {
        var lines = new List<string>(count + 1);
        if (model.Task == TaskKind.Classification)
        {
            lines.Add($"{model.LabelName},probability");
            var classes = model.ClassCount;
            for (var r = 0; r < count; r++)
            {
                var probabilities = outputs.AsSpan(r * classes, classes);
                var best = Evaluator.ArgMax(probabilities);
                lines.Add($"{model.ClassNames[best]},{probabilities[best].ToString("F6", CultureInfo.InvariantCulture)}");
            }
        }
        else
        {
            lines.Add(model.LabelName);
            for (var r = 0; r < count; r++)
            {
                lines.Add(outputs[r].ToString("G7", CultureInfo.InvariantCulture));
            }
        }
        return lines;
    }
}
