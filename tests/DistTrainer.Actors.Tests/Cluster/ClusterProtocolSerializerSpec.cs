using Akka.Actor;
using DistTrainer.Actors.Cluster;
using DistTrainer.Actors.Messages;
using DistTrainer.Numerics.Data;
using DistTrainer.Numerics.Models;
using DistTrainer.Numerics.Optimizers;

namespace DistTrainer.Actors.Tests.Cluster;

public sealed class ClusterProtocolSerializerSpec : IDisposable
{
    private readonly ActorSystem _system = ActorSystem.Create("serializer-spec", TestData.SpecConfig);

    private static JobSpec Job => JobSpec.Create("job-1", Mlp.CreateSpec(64, [32, 16], 10, Activation.Tanh, TaskKind.Classification),
        new OptimizerOptions(OptimizerKind.Momentum, 0.05f, 0.8f, 0.001f), TrainingMode.Async, 7, 64, 12, 2_000_000,
        new DataDescription("digits", 1442, 64, 10, TaskKind.Classification, "0123456789abcdef"));

    private static JobSpec RbmJob => JobSpec.Create("job-2", Rbm.CreateSpec(64, 100), new OptimizerOptions(OptimizerKind.Sgd, 0.06f), TrainingMode.Sync, 5, 10, 20, 6564,
        new DataDescription("digits", 1442, 64, 10, TaskKind.Classification, "0123456789abcdef"), new RbmOptions(CdSteps: 3, PersistentChains: 1442));

    public static TheoryData<string> MessageNames => new(ClusterProtocolSerializer.Manifests.Keys.Select(t => t.Name));

    private static object Sample(string name) => name switch
    {
        nameof(JobSpec) => Job,
        nameof(DataDescription) => Job.Data,
        nameof(JoinJob) => new JoinJob("job-1", "akka.tcp://disttrainer@127.0.0.1:1234", Job.Data),
        nameof(JobOffer) => new JobOffer(Job, 3, "akka.tcp://disttrainer@127.0.0.1:4053/user/coordinator/job/coordinator#123", "akka.tcp://disttrainer@127.0.0.1:4054/user/parameter-server-host/parameter-server#456"),
        nameof(JobRefused) => new JobRefused("job-1", "its data has 30 features, the job's model expects 64"),
        nameof(StartParameterServer) => new StartParameterServer(Job),
        nameof(ParameterServerStarted) => new ParameterServerStarted("job-1", 2_000_000),
        nameof(JobFinished) => new JobFinished("job-1", true, "finished after 12 epochs"),
        nameof(FlowProbe) => new FlowProbe(42),
        nameof(FlowAck) => new FlowAck(42),
        _ => throw new ArgumentException(name),
    };

    [Theory]
    [MemberData(nameof(MessageNames))]
    public void Cluster_message_should_round_trip_through_the_cluster_serializer(string name)
    {
        var message = Sample(name);
        var serializer = _system.Serialization.FindSerializerFor(message);
        Assert.IsType<ClusterProtocolSerializer>(serializer);

        var bytes = serializer.ToBinary(message);
        var back = ((Akka.Serialization.SerializerWithStringManifest)serializer).FromBinary(bytes, ClusterProtocolSerializer.Manifests[message.GetType()]);

        Assert.Equal(Describe(message), Describe(back));
    }

    [Fact]
    public void Rbm_job_spec_and_join_should_keep_the_model_kind_and_cd_options_across_the_wire()
    {
        var job = RbmJob;
        var join = new JoinJob("job-2", "akka.tcp://disttrainer@127.0.0.1:1234", job.Data, ModelKind.Rbm);
        var serializer = (Akka.Serialization.SerializerWithStringManifest)_system.Serialization.FindSerializerFor(job);

        var jobBack = (JobSpec)serializer.FromBinary(serializer.ToBinary(job), ClusterProtocolSerializer.Manifests[typeof(JobSpec)]);
        var joinBack = (JoinJob)serializer.FromBinary(serializer.ToBinary(join), ClusterProtocolSerializer.Manifests[typeof(JoinJob)]);

        Assert.Equal(ModelKind.Rbm, jobBack.Kind);
        Assert.Equal(new RbmOptions(CdSteps: 3, PersistentChains: 1442, Seed: 5), jobBack.Rbm);
        Assert.Equal(ModelKind.Rbm, joinBack.Kind);
        Assert.Null(Job.Rbm);
    }

    /// <summary>Records with arrays compare arrays by reference; compare the printed contents instead.</summary>
    private static string Describe(object message) => message switch
    {
        JobSpec j => $"{j} {string.Join(',', j.Hidden)} {j.LearningRate} {j.Momentum} {j.WeightDecay} {j.Optimizer} {j.Seed} {j.BatchSize} {j.Epochs} {j.Data} {j.CdSteps} {j.PersistentChains}",
        JoinJob j => $"{j.JobId} {j.Node} {j.Data} {j.Kind}",
        JobOffer o => $"{Describe(o.Job)} {o.WorkerId} {o.CoordinatorPath} {o.ParameterServerPath}",
        StartParameterServer s => Describe(s.Job),
        _ => message.ToString()!,
    };

    public void Dispose() => _system.Terminate().Wait(TimeSpan.FromSeconds(10));
}
