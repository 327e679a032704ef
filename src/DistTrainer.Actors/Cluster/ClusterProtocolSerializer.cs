using System.Runtime.Serialization;
using Akka.Actor;
using Akka.Serialization;
using DistTrainer.Actors.Serialization;
using MessagePack;

namespace DistTrainer.Actors.Cluster;

/// <summary>
/// Serializer of the cluster set-up messages (<see cref="IClusterProtocolMessage"/>): the same MessagePack options as
/// <see cref="DistTrainerSerializer"/> (attributed contracts, untrusted-data limits) behind its own short manifests.
/// </summary>
public sealed class ClusterProtocolSerializer : SerializerWithStringManifest
{
    public const int SerializerId = 1702;

    // Manifests are part of the wire format: never change or reuse one.
    private static readonly (Type Type, string Manifest)[] _table =
    [
        (typeof(JobSpec), "js"),
        (typeof(DataDescription), "dd"),
        (typeof(JoinJob), "jj"),
        (typeof(JobOffer), "jo"),
        (typeof(JobRefused), "jr"),
        (typeof(StartParameterServer), "sp"),
        (typeof(ParameterServerStarted), "pss"),
        (typeof(JobFinished), "jf"),
        (typeof(FlowProbe), "fp"),
        (typeof(FlowAck), "fa"),
    ];

    private static readonly Dictionary<Type, string> _manifestByType = _table.ToDictionary(e => e.Type, e => e.Manifest);
    private static readonly Dictionary<string, Type> _typeByManifest = _table.ToDictionary(e => e.Manifest, e => e.Type, StringComparer.Ordinal);

    public ClusterProtocolSerializer(ExtendedActorSystem system) : base(system)
    {
    }

    public override int Identifier => SerializerId;

    public static IReadOnlyDictionary<Type, string> Manifests => _manifestByType;

    public override string Manifest(object o) =>
        _manifestByType.TryGetValue(o.GetType(), out var manifest)
            ? manifest
            : throw new SerializationException($"{o.GetType().Name} is not a DistTrainer cluster message");

    public override byte[] ToBinary(object obj)
    {
        var type = obj.GetType();
        if (!_manifestByType.ContainsKey(type))
        {
            throw new SerializationException($"{type.Name} is not a DistTrainer cluster message");
        }
        return MessagePackSerializer.Serialize(type, obj, DistTrainerSerializer.Options);
    }

    public override object FromBinary(byte[] bytes, string manifest)
    {
        if (!_typeByManifest.TryGetValue(manifest, out var type))
        {
            throw new SerializationException($"unknown DistTrainer cluster manifest \"{manifest}\"");
        }
        try
        {
            return MessagePackSerializer.Deserialize(type, bytes, DistTrainerSerializer.Options)
                ?? throw new SerializationException($"manifest \"{manifest}\" decoded to nothing");
        }
        catch (MessagePackSerializationException e)
        {
            throw new SerializationException($"malformed \"{manifest}\" message: {e.Message}", e);
        }
    }
}
