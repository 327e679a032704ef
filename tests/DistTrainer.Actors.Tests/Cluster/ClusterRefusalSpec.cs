using Akka.Actor;
using Akka.Configuration;
using DistTrainer.Actors.Cluster;
using DistTrainer.Numerics.Data;

namespace DistTrainer.Actors.Tests.Cluster;

/// <summary>Nodes that do not belong to the job are refused and the job goes on undisturbed.</summary>
public sealed class ClusterRefusalSpec
{
    [Fact]
    public async Task Nodes_with_other_data_another_job_or_another_cluster_name_should_be_refused_while_the_job_finishes()
    {
        var coordinator = ClusterTestNodes.Coordinator(ClusterTestNodes.DigitsJob(epochs: 3, minWorkers: 1, hidden: [32]), logLevel: "INFO");
        var good = ClusterTestNodes.Worker(coordinator);
        var otherRows = Enumerable.Range(0, TestData.DigitsTrain.Count).Where(i => i % 7 != 0).ToArray();
        var otherData = ClusterTestNodes.Worker(coordinator, data: TestData.DigitsTrain.Select(otherRows));
        var otherJob = ClusterTestNodes.Worker(coordinator, jobId: "another-job");
        var foreign = ActorSystem.Create("other-cluster", ConfigurationFactory.ParseString($$"""
            akka.loglevel = WARNING
            akka.actor.provider = cluster
            akka.remote.dot-netty.tcp { hostname = "127.0.0.1", port = 0 }
            akka.cluster.seed-nodes = ["{{coordinator.Address}}"]
            """).WithFallback(DistTrainerConfig.Default));
        try
        {
            // Refused nodes leave the cluster and stop; their outcome carries the reason.
            await Task.WhenAll(otherData.WhenTerminated, otherJob.WhenTerminated).WaitAsync(TimeSpan.FromSeconds(60));
            Assert.Equal(NodeOutcomeKind.Refused, otherData.Outcome.Kind);
            Assert.Contains("training split has", otherData.Outcome.Reason, StringComparison.Ordinal);
            Assert.Equal(NodeOutcomeKind.Refused, otherJob.Outcome.Kind);
            Assert.Contains("another-job", otherJob.Outcome.Reason, StringComparison.Ordinal);

            var outcome = await coordinator.JobOutcome!.WaitAsync(TimeSpan.FromSeconds(120));
            Assert.True(outcome.Succeeded, outcome.Failure);
            Assert.Equal(1, outcome.Result!.Workers);
            Assert.All(outcome.Result.SamplesSeenPerEpoch, n => Assert.Equal(TestData.DigitsTrain.Count, n));
            Assert.All(outcome.Result.Epochs, e => Assert.Equal(0, e.RedrivenWork));
            Assert.DoesNotContain(coordinator.Cluster.State.Members, m => m.Address.System == "other-cluster");
            Assert.DoesNotContain(Akka.Cluster.Cluster.Get(foreign).State.Members, m => m.Address.System == ClusterNode.DefaultSystemName);
            await good.WhenTerminated.WaitAsync(TimeSpan.FromSeconds(30));
            Assert.Equal(NodeOutcomeKind.JobSucceeded, good.Outcome.Kind);
        }
        finally
        {
            await ClusterTestNodes.StopAll(coordinator, good, otherData, otherJob);
            await foreign.Terminate();
        }
    }

    [Fact]
    public void Node_should_refuse_to_start_when_its_seed_node_belongs_to_another_cluster()
    {
        var options = new ClusterNodeOptions([ClusterNode.WorkerRole])
        {
            SeedNodes = ["akka.tcp://someone-else@127.0.0.1:4053"],
            WorkerData = () => TestData.DigitsTrain,
        };

        var e = Assert.Throws<ArgumentException>(() => ClusterNode.Start(options));

        Assert.Contains("seed node akka.tcp://someone-else@127.0.0.1:4053 belongs to cluster \"someone-else\"", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Node_config_should_take_command_line_values_over_cluster_hocon_over_built_in_defaults()
    {
        var clusterHocon = ConfigurationFactory.ParseString("""
            akka.remote.dot-netty.tcp { hostname = "10.0.0.5", port = 4053 }
            akka.cluster.seed-nodes = ["akka.tcp://disttrainer@10.0.0.5:4053"]
            akka.cluster.split-brain-resolver.stable-after = 7s
            disttrainer.chunk-size = 32000b
            """);
        var options = new ClusterNodeOptions([ClusterNode.WorkerRole]) { Config = clusterHocon, Port = 0 };

        var config = ClusterNode.BuildConfig(options);

        Assert.Equal(0, config.GetInt("akka.remote.dot-netty.tcp.port"));                       // command line
        Assert.Equal("10.0.0.5", config.GetString("akka.remote.dot-netty.tcp.hostname"));       // cluster.hocon
        Assert.Equal(["akka.tcp://disttrainer@10.0.0.5:4053"], config.GetStringList("akka.cluster.seed-nodes"));
        Assert.Equal(TimeSpan.FromSeconds(7), config.GetTimeSpan("akka.cluster.split-brain-resolver.stable-after"));
        Assert.Equal(32000, DistTrainerSettings.Create(config).ChunkBytes);                      // cluster.hocon over reference.conf
        Assert.Equal("keep-majority", config.GetString("akka.cluster.split-brain-resolver.active-strategy")); // built-in default
        Assert.Equal("cluster", config.GetString("akka.actor.provider"));
        Assert.Equal(["worker"], config.GetStringList("akka.cluster.roles"));
        Assert.Equal(DistTrainerSettings.Default.StepTimeout, DistTrainerSettings.Create(config).StepTimeout); // reference.conf
    }
}
