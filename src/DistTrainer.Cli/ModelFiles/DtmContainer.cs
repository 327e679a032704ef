using System.Buffers.Binary;
using System.Security.Cryptography;
using MessagePack;

namespace DistTrainer.Cli.ModelFiles;

/// <summary>A model or checkpoint file that cannot be read. The message is one line naming the file and the problem.</summary>
public sealed class ModelFileException : Exception
{
    public ModelFileException(string message) : base(message) { }
    public ModelFileException(string message, Exception inner) : base(message, inner) { }
    public ModelFileException() { }
}

/// <summary>What a DistTrainer file holds; a checkpoint cannot be loaded where a model is expected and vice versa.</summary>
public enum DtmContentKind : byte
{
    Model = 1,
    Checkpoint = 2,
}

/// <summary>
/// The container shared by model files (.dtm) and checkpoints (.dtc):
/// <code>
/// offset  size  field
///      0     8  magic 89 'D' 'T' 'M' 0D 0A 1A 0A (PNG-style: catches text-mode and truncated transfers)
///      8     2  format version, little-endian
///     10     1  content kind (1 model, 2 checkpoint)
///     11     1  reserved, 0
///     12     4  payload length, little-endian
///     16    32  SHA-256 of the payload
///     48     n  MessagePack payload
/// </code>
/// </summary>
public static class DtmContainer
{
    public const ushort FormatVersion = 1;
    public const int HeaderSize = 48;

    private static readonly byte[] _magic = [0x89, (byte)'D', (byte)'T', (byte)'M', 0x0D, 0x0A, 0x1A, 0x0A];

    /// <summary>Reading never resolves type names and bounds nesting depth: files may come from anywhere.</summary>
    private static readonly MessagePackSerializerOptions _readOptions =
        MessagePackSerializerOptions.Standard.WithSecurity(MessagePackSecurity.UntrustedData);

    public static byte[] Encode<T>(DtmContentKind kind, T content)
    {
        var payload = MessagePackSerializer.Serialize(content, MessagePackSerializerOptions.Standard);
        var bytes = new byte[HeaderSize + payload.Length];
        _magic.CopyTo(bytes, 0);
        BinaryPrimitives.WriteUInt16LittleEndian(bytes.AsSpan(8), FormatVersion);
        bytes[10] = (byte)kind;
        BinaryPrimitives.WriteInt32LittleEndian(bytes.AsSpan(12), payload.Length);
        SHA256.HashData(payload, bytes.AsSpan(16, 32));
        payload.CopyTo(bytes, HeaderSize);
        return bytes;
    }

    public static T Decode<T>(ReadOnlySpan<byte> bytes, DtmContentKind expected, string source)
    {
        var what = expected == DtmContentKind.Model ? "model file" : "checkpoint";
        if (bytes.Length < _magic.Length || !bytes[.._magic.Length].SequenceEqual(_magic))
        {
            throw new ModelFileException($"{source}: not a DistTrainer {what} (bad magic bytes)");
        }
        if (bytes.Length < HeaderSize)
        {
            throw new ModelFileException($"{source}: truncated {what}: {bytes.Length} bytes, shorter than the {HeaderSize}-byte header");
        }
        var version = BinaryPrimitives.ReadUInt16LittleEndian(bytes[8..]);
        if (version != FormatVersion)
        {
            throw new ModelFileException($"{source}: {what} format version {version} is not supported (this build reads version {FormatVersion})");
        }
        var kind = (DtmContentKind)bytes[10];
        if (kind != expected)
        {
            var found = kind switch { DtmContentKind.Model => "a model file", DtmContentKind.Checkpoint => "a checkpoint", _ => $"content kind {(byte)kind}" };
            throw new ModelFileException($"{source}: expected a {what}, found {found}");
        }
        var length = BinaryPrimitives.ReadInt32LittleEndian(bytes[12..]);
        var available = bytes.Length - HeaderSize;
        if (length < 0 || length > available)
        {
            throw new ModelFileException($"{source}: truncated {what}: the header announces {length} payload bytes, the file holds {available}");
        }
        if (length < available)
        {
            throw new ModelFileException($"{source}: corrupt {what}: {available - length} unexpected bytes after the payload");
        }
        var payload = bytes.Slice(HeaderSize, length);
        Span<byte> hash = stackalloc byte[32];
        SHA256.HashData(payload, hash);
        if (!hash.SequenceEqual(bytes.Slice(16, 32)))
        {
            throw new ModelFileException($"{source}: corrupt {what}: checksum mismatch");
        }
        try
        {
            return MessagePackSerializer.Deserialize<T>(payload.ToArray(), _readOptions)
                ?? throw new ModelFileException($"{source}: corrupt {what}: empty payload");
        }
        catch (MessagePackSerializationException e)
        {
            throw new ModelFileException($"{source}: corrupt {what}: the payload does not decode ({e.InnerException?.Message ?? e.Message})", e);
        }
    }

    public static T Read<T>(string path, DtmContentKind expected)
    {
        byte[] bytes;
        try
        {
            bytes = File.ReadAllBytes(path);
        }
        catch (FileNotFoundException)
        {
            throw new ModelFileException($"{path}: no such file");
        }
        catch (DirectoryNotFoundException)
        {
            throw new ModelFileException($"{path}: no such file");
        }
        return Decode<T>(bytes, expected, path);
    }
}
