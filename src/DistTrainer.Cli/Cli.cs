using DistTrainer.Cli.Commands;
using DistTrainer.Numerics.Data;

namespace DistTrainer.Cli;

/// <summary>Dispatches `disttrainer COMMAND ...` and turns user errors into one-line messages with a non-zero exit code.</summary>
public static class Cli
{
    private const string Usage = """
        usage: disttrainer COMMAND [options]

        commands:
          train      train a model in this process (single process, or --workers N actors)
          evaluate   a saved model's accuracy and confusion matrix, or RMSE and R², on a dataset
          predict    apply a saved model to the rows of a CSV file
          node       run one node of a multi-node cluster (--role coordinator|parameter-server|worker)
          bench      measure throughput: bench mlp | gemm | sim | rbm | exchange
          help       show this text

        Run 'disttrainer COMMAND --help' for a command's options.
        """;

    public static int Run(string[] args)
    {
        if (args.Length == 0 || args[0] is "help" or "--help" or "-h")
        {
            Console.WriteLine(Usage);
            return args.Length == 0 ? 2 : 0;
        }
        var rest = args.Skip(1).ToArray();
        try
        {
            return args[0] switch
            {
                "train" => TrainCommand.Run(rest),
                "evaluate" => EvaluateCommand.Run(rest),
                "predict" => PredictCommand.Run(rest),
                "bench" => BenchCommand.Run(rest),
                "node" => NodeCommand.Run(rest),
                _ => throw new UsageException($"unknown command \"{args[0]}\"; expected train, evaluate, predict, node or bench (see 'disttrainer help')"),
            };
        }
        catch (UsageException e)
        {
            Console.Error.WriteLine($"error: {e.Message}");
            return 2;
        }
        catch (Exception e) when (e is ModelFiles.ModelFileException or DataFormatException or IOException or UnauthorizedAccessException
            or ArgumentException or Actors.Simulation.TrainingFailedException or Numerics.Training.TrainingDivergedException)
        {
            Console.Error.WriteLine($"error: {e.Message}");
            return 1;
        }
    }
}
