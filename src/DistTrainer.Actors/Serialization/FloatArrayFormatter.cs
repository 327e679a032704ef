using System.Runtime.InteropServices;
using MessagePack;
using MessagePack.Formatters;

namespace DistTrainer.Actors.Serialization;

/// <summary>
/// Writes a <c>float[]</c> as one MessagePack bin block of its little-endian IEEE-754 bytes (bin8/16/32 by size)
/// instead of an array of 5-byte float32 items: ~20% smaller and a single memcpy each way. nil reads as an empty array.
/// </summary>
public sealed class FloatArrayFormatter : IMessagePackFormatter<float[]?>
{
    public static readonly FloatArrayFormatter Instance = new();

    private FloatArrayFormatter()
    {
        if (!BitConverter.IsLittleEndian)
        {
            throw new PlatformNotSupportedException("the float[] wire format is little-endian; this machine is big-endian");
        }
    }

    public void Serialize(ref MessagePackWriter writer, float[]? value, MessagePackSerializerOptions options)
    {
        if (value is null)
        {
            writer.WriteNil();
            return;
        }
        writer.Write(MemoryMarshal.AsBytes(value.AsSpan()));
    }

    public float[]? Deserialize(ref MessagePackReader reader, MessagePackSerializerOptions options)
    {
        if (reader.TryReadNil())
        {
            return [];
        }
        var bytes = reader.ReadBytes() ?? default;
        if (bytes.Length % sizeof(float) != 0)
        {
            throw new MessagePackSerializationException($"a float[] block holds {bytes.Length} bytes, not a multiple of 4");
        }
        var result = new float[bytes.Length / sizeof(float)];
        var destination = MemoryMarshal.AsBytes(result.AsSpan());
        foreach (var segment in bytes)
        {
            segment.Span.CopyTo(destination);
            destination = destination[segment.Length..];
        }
        return result;
    }
}
