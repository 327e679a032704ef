using System.Globalization;
using System.Text.Json.Nodes;
using DistTrainer.Actors.Messages;
using DistTrainer.Cli.Bench;

namespace DistTrainer.Cli.Commands;

/// <summary>`disttrainer bench mlp|gemm|sim|rbm`: throughput measurements on synthetic data.</summary>
public static class BenchCommand
{
    public static readonly OptionSpec[] Options =
    [
        new("inputs", "input features", Default: "784"),
        new("hidden", "hidden layer sizes, comma-separated (bench rbm: one size)", Default: "256,128; 256 for rbm"),
        new("classes", "output classes", Default: "10"),
        new("batch", "minibatch size", Default: "128"),
        new("threads", "compute threads", Default: "1"),
        new("reps", "timed repetitions (the median is reported)", Default: "5"),
        new("workers", "bench sim: workers in the simulation", Default: "2"),
        new("mode", "bench sim: sync | async", Default: "sync"),
        new("cd-steps", "bench rbm: Gibbs steps k of CD-k", Default: "1"),
        new("json", "print one single-line JSON result", TakesValue: false),
        new("help", "show this help", TakesValue: false),
    ];

    public static int Run(IReadOnlyList<string> args)
    {
        if (args.Count > 0 && args[0] == "exchange") return ExchangeBench.Run(args.Skip(1).ToList()); // its own options
        var options = ParsedOptions.Parse("bench", args, Options);
        if (options.Flag("help") || options.Positionals.Count == 0)
        {
            Console.WriteLine(ParsedOptions.Help("disttrainer bench mlp|gemm|sim|rbm [options]", "Measures training throughput on synthetic data.", Options));
            return options.Flag("help") ? 0 : 2;
        }
        var what = options.Positionals[0];
        if (options.Positionals.Count > 1)
        {
            throw new UsageException($"unexpected argument \"{options.Positionals[1]}\" for 'bench'");
        }
        var inputs = options.Int("inputs", 784, min: 1);
        var hidden = options.IntList("hidden", what == "rbm" ? [256] : [256, 128]);
        var classes = options.Int("classes", 10, min: 2);
        var batch = options.Int("batch", 128, min: 1);
        var threads = options.Int("threads", 1, min: 1, max: 256);
        var reps = options.Int("reps", 5, min: 1);
        var json = options.Flag("json");

        JsonObject result;
        switch (what)
        {
            case "mlp":
                var mlp = MlpBench.Run(inputs, hidden, classes, batch, threads, reps: reps);
                result = new JsonObject
                {
                    ["bench"] = "mlp",
                    ["model"] = $"{inputs}-{string.Join('-', hidden)}-{classes}",
                    ["batch"] = batch,
                    ["threads"] = threads,
                    ["samples_per_second"] = Math.Round(mlp.SamplesPerSecond),
                    ["gflops"] = Math.Round(mlp.Gflops, 1),
                    ["rep_samples_per_second"] = new JsonArray(mlp.RepSamplesPerSecond.Select(r => (JsonNode)Math.Round(r)).ToArray()),
                    ["allocated_bytes_per_step"] = mlp.AllocatedBytesPerStep,
                };
                if (!json)
                {
                    Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                        $"mlp {result["model"]} batch {batch} threads {threads}: {mlp.SamplesPerSecond:N0} samples/s, {mlp.Gflops:F1} GFLOP/s, {mlp.AllocatedBytesPerStep} bytes allocated per step"));
                }
                break;
            case "gemm":
                var sizes = new[] { inputs }.Concat(hidden).Append(classes).ToArray();
                var rows = GemmBench.Run(batch, sizes, threads, TimeSpan.FromSeconds(1));
                result = new JsonObject
                {
                    ["bench"] = "gemm",
                    ["model"] = string.Join('-', sizes),
                    ["batch"] = batch,
                    ["threads"] = threads,
                    ["shapes"] = new JsonArray(rows.Select(r => (JsonNode)new JsonObject
                    {
                        ["name"] = r.Name,
                        ["m"] = r.M,
                        ["n"] = r.N,
                        ["k"] = r.K,
                        ["gflops"] = Math.Round(r.Gflops, 1),
                    }).ToArray()),
                };
                if (!json)
                {
                    foreach (var r in rows)
                    {
                        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{r.Name,-36} {r.Gflops,8:F1} GFLOP/s"));
                    }
                }
                break;
            case "sim":
                var workers = options.Int("workers", 2, min: 1, max: 64);
                var mode = options.Choice("mode", TrainingMode.Sync, new Dictionary<string, TrainingMode> { ["sync"] = TrainingMode.Sync, ["async"] = TrainingMode.Async });
                var sim = SimBench.RunAsync(inputs, hidden, classes, batch, workers, mode, threadsPerWorker: threads, timedEpochs: reps, compareWithSingleProcess: true)
                    .GetAwaiter().GetResult();
                result = new JsonObject
                {
                    ["bench"] = "sim",
                    ["model"] = $"{inputs}-{string.Join('-', hidden)}-{classes}",
                    ["batch"] = batch,
                    ["workers"] = workers,
                    ["mode"] = mode.ToString().ToLowerInvariant(),
                    ["threads_per_worker"] = threads,
                    ["samples_per_second"] = Math.Round(sim.SamplesPerSecond),
                    ["epoch_samples_per_second"] = new JsonArray(sim.EpochSamplesPerSecond.Select(r => (JsonNode)Math.Round(r)).ToArray()),
                    ["worker_mean_compute_ms"] = new JsonArray(sim.WorkerMeanComputeMs.Select(r => (JsonNode)Math.Round(r, 2)).ToArray()),
                    ["single_process_samples_per_second"] = sim.SingleProcessSamplesPerSecond is { } single ? Math.Round(single) : null,
                    ["ratio_to_single_process"] = sim.RatioToSingleProcess is { } ratio ? Math.Round(ratio, 3) : null,
                };
                if (!json)
                {
                    Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                        $"sim {result["model"]} batch {batch} workers {workers} {result["mode"]}: {sim.SamplesPerSecond:N0} samples/s, {sim.RatioToSingleProcess:F2}x one thread in one process ({sim.SingleProcessSamplesPerSecond:N0} samples/s)"));
                }
                break;
            case "rbm":
                if (hidden.Length != 1)
                {
                    throw new UsageException("bench rbm has one hidden layer: give --hidden N");
                }
                var cdSteps = options.Int("cd-steps", 1, min: 1, max: 1000);
                var rbm = RbmBench.Run(inputs, hidden[0], batch, threads, cdSteps, reps: reps);
                result = new JsonObject
                {
                    ["bench"] = "rbm",
                    ["model"] = $"{inputs}-{hidden[0]}",
                    ["batch"] = batch,
                    ["threads"] = threads,
                    ["cd_steps"] = cdSteps,
                    ["samples_per_second"] = Math.Round(rbm.SamplesPerSecond),
                    ["gflops"] = Math.Round(rbm.Gflops, 1),
                    ["rep_samples_per_second"] = new JsonArray(rbm.RepSamplesPerSecond.Select(r => (JsonNode)Math.Round(r)).ToArray()),
                    ["allocated_bytes_per_step"] = rbm.AllocatedBytesPerStep,
                };
                if (!json)
                {
                    Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                        $"rbm {result["model"]} CD-{cdSteps} batch {batch} threads {threads}: {rbm.SamplesPerSecond:N0} samples/s, {rbm.Gflops:F1} GFLOP/s, {rbm.AllocatedBytesPerStep} bytes allocated per step"));
                }
                break;
            default:
                throw new UsageException($"unknown benchmark \"{what}\"; expected mlp, gemm, sim or rbm");
        }
        if (json)
        {
            Console.WriteLine(result.ToJsonString());
        }
        return 0;
    }
}
