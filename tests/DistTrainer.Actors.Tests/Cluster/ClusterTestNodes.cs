using Akka.Configuration;
using DistTrainer.Actors.Cluster;
using DistTrainer.Actors.Messages;
using DistTrainer.Numerics.Data;
using DistTrainer.Numerics.Models;
using DistTrainer.Numerics.Optimizers;
using DistTrainer.Numerics.Training;

namespace DistTrainer.Actors.Tests.Cluster;

/// <summary>Builds cluster jobs and nodes on 127.0.0.1, port 0, for the in-process multi-node specs.</summary>
internal static class ClusterTestNodes
{
    /// <summary>
    /// Quiet logs, and cluster.hocon's transport choices: chunked tensors over the bulk channel (the end-to-end process
    /// tests run without cluster.hocon, so they cover the Akka.Remote-only path).
    /// </summary>
    public static Config QuietConfig(string logLevel = "WARNING", bool bulk = true) => ConfigurationFactory.ParseString($"""
        akka.loglevel = {logLevel}
        akka.cluster.failure-detector.acceptable-heartbeat-pause = 3s
        akka.remote.dot-netty.tcp.batching.enabled = false
        disttrainer.bulk-channel = {(bulk ? "on" : "off")}
        """);

    public static ClusterJob DigitsJob(int epochs, int minWorkers, int[] hidden, string jobId = ClusterNode.DefaultJobId, float lr = 0.005f, int batch = 32, int seed = 3)
    {
        var train = TestData.DigitsTrain;
        var test = TestData.DigitsTest;
        var spec = TestData.DigitsSpec(hidden);
        var model = new Mlp(spec);
        var job = JobSpec.Create(jobId, spec, new OptimizerOptions(OptimizerKind.Adam, lr), TrainingMode.Sync, seed, batch, epochs, model.ParameterCount, DataFingerprint.Describe(train));
        return new ClusterJob(job, train.Count, minWorkers, w => Evaluator.Evaluate(model, w, test, TargetScaling.Identity));
    }

    public static ClusterNode Coordinator(ClusterJob job, string logLevel = "WARNING", bool bulk = true) =>
        ClusterNode.Start(new ClusterNodeOptions([ClusterNode.CoordinatorRole, ClusterNode.ParameterServerRole])
        {
            Host = "127.0.0.1",
            Port = 0,
            Config = QuietConfig(logLevel, bulk),
            Job = job,
        });

    public static ClusterNode Worker(ClusterNode seed, Dataset? data = null, string jobId = ClusterNode.DefaultJobId, string logLevel = "WARNING", bool bulk = true) =>
        ClusterNode.Start(new ClusterNodeOptions([ClusterNode.WorkerRole])
        {
            Host = "127.0.0.1",
            Port = 0,
            SeedNodes = [seed.Address.ToString()],
            Config = QuietConfig(logLevel, bulk),
            JobId = jobId,
            WorkerData = () => data ?? TestData.DigitsTrain,
        });

    /// <summary>Leaves and stops every node still running (a test's finally block).</summary>
    public static async Task StopAll(params ClusterNode[] nodes)
    {
        await Task.WhenAll(nodes.Select(async n =>
        {
            if (!n.WhenTerminated.IsCompleted)
            {
                await n.System.Terminate().ConfigureAwait(false);
            }
        })).ConfigureAwait(false);
    }
}
