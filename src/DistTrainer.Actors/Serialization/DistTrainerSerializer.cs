using System.Runtime.Serialization;
using Akka.Actor;
using Akka.Serialization;
using DistTrainer.Actors.Messages;
using MessagePack;
using MessagePack.Resolvers;

namespace DistTrainer.Actors.Serialization;

/// <summary>
/// The Akka serializer of every <see cref="IDistTrainerMessage"/>: MessagePack contracts behind short, fixed manifests.
/// The manifest table below is the only place a wire string maps to a type, so no type name from the wire is ever
/// resolved; an unknown manifest or a type outside the table is a <see cref="SerializationException"/>.
/// Deserialization runs with <see cref="MessagePackSecurity.UntrustedData"/>.
/// </summary>
public sealed class DistTrainerSerializer : SerializerWithStringManifest
{
    public const int SerializerId = 1701;

    /// <summary>The MessagePack options: float[] as raw bin blocks, attributed contracts only, untrusted-data limits.</summary>
    public static readonly MessagePackSerializerOptions Options = MessagePackSerializerOptions.Standard
        .WithResolver(CompositeResolver.Create([FloatArrayFormatter.Instance], [StandardResolver.Instance]))
        .WithSecurity(MessagePackSecurity.UntrustedData);

    // Manifests are part of the wire format: never change or reuse one.
    private static readonly (Type Type, string Manifest)[] _table =
    [
        (typeof(TensorChunk), "tc"),
        (typeof(RegisterWorker), "rw"),
        (typeof(WorkerRegistered), "wr"),
        (typeof(WorkerRejected), "wx"),
        (typeof(ComputeGradient), "cg"),
        (typeof(PullParameters), "pp"),
        (typeof(ParametersSnapshot), "ps"),
        (typeof(PushGradients), "pg"),
        (typeof(GradientAccepted), "ga"),
        (typeof(GradientRejected), "gr"),
        (typeof(StepApplied), "sa"),
        (typeof(RegisterCoordinator), "rc"),
        (typeof(AssignShard), "as"),
        (typeof(ShardReady), "sr"),
        (typeof(PullTrainingState), "pt"),
        (typeof(TrainingState), "ts"),
        (typeof(RestoreTrainingState), "rt"),
        (typeof(TrainingStateRestored), "tr"),
        (typeof(TrainingDiverged), "td"),
    ];

    private static readonly Dictionary<Type, string> _manifestByType = _table.ToDictionary(e => e.Type, e => e.Manifest);
    private static readonly Dictionary<string, Type> _typeByManifest = _table.ToDictionary(e => e.Manifest, e => e.Type, StringComparer.Ordinal);

    public DistTrainerSerializer(ExtendedActorSystem system) : base(system)
    {
    }

    public override int Identifier => SerializerId;

    /// <summary>Every wire message type and its manifest (for tests and documentation).</summary>
    public static IReadOnlyDictionary<Type, string> Manifests => _manifestByType;

    public override string Manifest(object o) =>
        _manifestByType.TryGetValue(o.GetType(), out var manifest)
            ? manifest
            : throw new SerializationException($"{o.GetType().Name} is not a DistTrainer wire message");

    public override byte[] ToBinary(object obj)
    {
        var type = obj.GetType();
        if (!_manifestByType.ContainsKey(type))
        {
            throw new SerializationException($"{type.Name} is not a DistTrainer wire message");
        }
        return MessagePackSerializer.Serialize(type, obj, Options);
    }

    public override object FromBinary(byte[] bytes, string manifest)
    {
        if (!_typeByManifest.TryGetValue(manifest, out var type))
        {
            throw new SerializationException($"unknown DistTrainer manifest \"{manifest}\"");
        }
        try
        {
            return MessagePackSerializer.Deserialize(type, bytes, Options)
                ?? throw new SerializationException($"manifest \"{manifest}\" decoded to nothing");
        }
        catch (MessagePackSerializationException e)
        {
            throw new SerializationException($"malformed \"{manifest}\" message: {e.Message}", e);
        }
    }
}
