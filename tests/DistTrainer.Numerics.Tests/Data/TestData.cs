using System.Buffers.Binary;
using System.IO.Compression;

namespace DistTrainer.Numerics.Tests.Data;

/// <summary>Locates the shared real datasets and writes small files for the bad-input tests.</summary>
internal static class TestData
{
    private static readonly Lazy<string> _sharedDir = new(FindSharedDir);

    /// <summary>The repository-independent shared/data folder, found by walking up from the test binaries.</summary>
    public static string SharedDir => _sharedDir.Value;

    public static string Shared(string relative) => Path.Combine(SharedDir, relative);

    private static string FindSharedDir()
    {
        foreach (var start in new[] { AppContext.BaseDirectory, Directory.GetCurrentDirectory() })
        {
            for (var dir = new DirectoryInfo(start); dir is not null; dir = dir.Parent)
            {
                var candidate = Path.Combine(dir.FullName, "shared", "data");
                if (File.Exists(Path.Combine(candidate, "iris.csv")))
                {
                    return candidate;
                }
            }
        }
        throw new InvalidOperationException($"No shared/data folder above {AppContext.BaseDirectory}.");
    }

    public static byte[] IdxImages(int count, int rows, int columns, Func<int, byte>? pixel = null, int magic = 0x803)
    {
        var bytes = new byte[16 + count * rows * columns];
        BinaryPrimitives.WriteInt32BigEndian(bytes, magic);
        BinaryPrimitives.WriteInt32BigEndian(bytes.AsSpan(4), count);
        BinaryPrimitives.WriteInt32BigEndian(bytes.AsSpan(8), rows);
        BinaryPrimitives.WriteInt32BigEndian(bytes.AsSpan(12), columns);
        for (var i = 16; i < bytes.Length; i++)
        {
            bytes[i] = pixel?.Invoke(i - 16) ?? (byte)(i % 256);
        }
        return bytes;
    }

    public static byte[] IdxLabels(byte[] labels, int magic = 0x801)
    {
        var bytes = new byte[8 + labels.Length];
        BinaryPrimitives.WriteInt32BigEndian(bytes, magic);
        BinaryPrimitives.WriteInt32BigEndian(bytes.AsSpan(4), labels.Length);
        labels.CopyTo(bytes, 8);
        return bytes;
    }

    public static byte[] Gzip(byte[] data)
    {
        using var output = new MemoryStream();
        using (var gzip = new GZipStream(output, CompressionLevel.Fastest))
        {
            gzip.Write(data);
        }
        return output.ToArray();
    }
}
