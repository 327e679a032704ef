using System.Runtime.Serialization;
using Akka.TestKit.Xunit2;
using DistTrainer.Actors.Messages;
using DistTrainer.Actors.Serialization;

namespace DistTrainer.Actors.Tests;

public sealed class SerializerSpec : TestKit
{
    public SerializerSpec() : base(TestData.SpecConfig)
    {
    }

    public static TheoryData<string> AllMessages() => [.. Samples().Keys];

    private static Dictionary<string, IDistTrainerMessage> Samples() => new()
    {
        ["tc"] = new TensorChunk(7, 1, 3, 10, 4, [1f, -2f, float.Epsilon, 3.5f]),
        ["rw"] = new RegisterWorker(2, 1210),
        ["wr"] = new WorkerRegistered(2, TrainingMode.Async),
        ["wx"] = new WorkerRejected(2, "model differs"),
        ["cg"] = new ComputeGradient(1, 42, 3, 2, 42, 1, 256, [5, 9, 1, 0]),
        ["pp"] = new PullParameters(-1),
        ["ps"] = new ParametersSnapshot(12, 3, 0, [0.5f, -0.25f, 1e-20f]),
        ["pg"] = new PushGradients(1, 0, 5, 1, 5, 64, 21, 33.25, 1500, 3, 0, [1f, 2f, 3f], 17),
        ["ga"] = new GradientAccepted(1, 0, 5, 1, 5, 21, 33.25, 1500, 17),
        ["gr"] = new GradientRejected(1, 5, 1, 6, "stale version 5"),
        ["sa"] = new StepApplied(5, 6, 64, 99.5),
        ["rc"] = new RegisterCoordinator(1210),
        ["as"] = new AssignShard(3, 1, 1437, [new RowRange(0, 10), new RowRange(479, 479)]),
        ["sr"] = new ShardReady(3, 1, 489),
        ["pt"] = new PullTrainingState(4, 30),
        ["ts"] = new TrainingState(4, 92, 2, 5, 0, [0.5f, -1f, 92f, 1e-3f, 2e-6f]),
        ["rt"] = new RestoreTrainingState(92, 2, 5, 17, []),
        ["tr"] = new TrainingStateRestored(92, "the checkpoint holds 3 weights"),
        ["td"] = new TrainingDiverged(1, 40, 2, 40, "the gradient or the loss holds NaN or infinity"),
    };

    [Theory]
    [MemberData(nameof(AllMessages))]
    public void Message_should_find_the_DistTrainer_serializer(string manifest)
    {
        var message = Samples()[manifest];
        var serializer = Sys.Serialization.FindSerializerFor(message);
        Assert.IsType<DistTrainerSerializer>(serializer);
        Assert.Equal(DistTrainerSerializer.SerializerId, serializer.Identifier);
        Assert.Equal(manifest, ((DistTrainerSerializer)serializer).Manifest(message));
    }

    [Theory]
    [MemberData(nameof(AllMessages))]
    public void Message_should_round_trip_with_equal_content(string manifest)
    {
        var message = Samples()[manifest];
        var serializer = (DistTrainerSerializer)Sys.Serialization.FindSerializerFor(message);
        var back = serializer.FromBinary(serializer.ToBinary(message), manifest);
        Assert.Equal(message.GetType(), back.GetType());
        Assert.Equal(Normalize(message), Normalize(back));
    }

    [Fact]
    public void Every_wire_message_type_should_have_a_sample_and_a_unique_manifest()
    {
        var wireTypes = typeof(IDistTrainerMessage).Assembly.GetTypes()
            .Where(t => typeof(IDistTrainerMessage).IsAssignableFrom(t) && !t.IsInterface).ToHashSet();
        Assert.Equal(wireTypes, DistTrainerSerializer.Manifests.Keys.ToHashSet());
        Assert.Equal(wireTypes, Samples().Values.Select(m => m.GetType()).ToHashSet());
        Assert.Equal(DistTrainerSerializer.Manifests.Count, DistTrainerSerializer.Manifests.Values.Distinct().Count());
    }

    [Fact]
    public void Float_arrays_should_travel_as_one_raw_binary_block()
    {
        var data = TestData.Random(16000, 1);
        var message = new TensorChunk(1, 0, 1, data.Length, 0, data);
        var serializer = (DistTrainerSerializer)Sys.Serialization.FindSerializerFor(message);
        var bytes = serializer.ToBinary(message);
        Assert.InRange(bytes.Length, data.Length * 4, data.Length * 4 + 32);
        Assert.True(((TensorChunk)serializer.FromBinary(bytes, "tc")).Data.AsSpan().SequenceEqual(data));
    }

    [Fact]
    public void Serializer_should_refuse_an_unknown_manifest_and_a_foreign_type()
    {
        var serializer = (DistTrainerSerializer)Sys.Serialization.FindSerializerForType(typeof(PullParameters));
        Assert.Throws<SerializationException>(() => serializer.FromBinary([0x91, 0x01], "System.String"));
        Assert.Throws<SerializationException>(() => serializer.ToBinary("not a message"));
        Assert.Throws<SerializationException>(() => serializer.FromBinary([0xc1], "pp"));
    }

    /// <summary>Records compare arrays by reference: turn every array member into a comparable string.</summary>
    private static string Normalize(object message) =>
        string.Join("|", message.GetType().GetProperties().Where(p => p.Name != "EqualityContract").Select(p => p.GetValue(message) switch
        {
            float[] f => "f:" + string.Join(",", f.Select(x => BitConverter.SingleToInt32Bits(x))),
            int[] i => "i:" + string.Join(",", i),
            RowRange[] r => "r:" + string.Join(",", r),
            var v => $"{p.Name}={v}",
        }));
}
