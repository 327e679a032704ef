using System.Buffers.Binary;
using System.Globalization;
using System.IO.Compression;
using System.Numerics.Tensors;

namespace DistTrainer.Numerics.Data;

/// <summary>
/// Reads MNIST-format IDX files (unsigned-byte images and labels, big-endian header), plain or gzip-compressed; gzip is
/// recognised by its magic bytes, not by the file name. Pixels become floats 0..255; scaling is left to a scaler.
/// </summary>
public static class IdxDataset
{
    private const int ImagesMagic = 0x00000803;
    private const int LabelsMagic = 0x00000801;

    /// <summary>The canonical file stems of an MNIST-format folder; each may also end in ".gz".</summary>
    public static readonly (string Images, string Labels) TrainFiles = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte");
    public static readonly (string Images, string Labels) TestFiles = ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte");

    public static Dataset LoadPair(string imagesPath, string labelsPath, string name)
    {
        var labels = ReadLabels(labelsPath);
        var classCount = labels.Max + 1;
        if (classCount < 2)
        {
            throw new DataFormatException($"{Path.GetFileName(labelsPath)}: expected at least 2 classes, found only label 0");
        }
        return Build(imagesPath, labelsPath, labels, classCount, name);
    }

    /// <summary>Loads the canonical train and t10k files of a folder. Both sets get the same class count.</summary>
    public static (Dataset Train, Dataset Test) LoadFolder(string folder)
    {
        if (!Directory.Exists(folder))
        {
            throw new DataFormatException($"{folder}: no such folder");
        }
        var trainImages = FindFile(folder, TrainFiles.Images);
        var trainLabels = FindFile(folder, TrainFiles.Labels);
        var testImages = FindFile(folder, TestFiles.Images);
        var testLabels = FindFile(folder, TestFiles.Labels);

        var trainLabelSet = ReadLabels(trainLabels);
        var testLabelSet = ReadLabels(testLabels);
        var classCount = Math.Max(trainLabelSet.Max, testLabelSet.Max) + 1;
        if (classCount < 2)
        {
            throw new DataFormatException($"{Path.GetFileName(trainLabels)}: expected at least 2 classes, found only label 0");
        }
        var name = Path.GetFileName(Path.TrimEndingDirectorySeparator(Path.GetFullPath(folder)));
        var train = Build(trainImages, trainLabels, trainLabelSet, classCount, name);
        var test = Build(testImages, testLabels, testLabelSet, classCount, name);
        if (test.FeatureCount != train.FeatureCount)
        {
            throw new DataFormatException(
                $"{Path.GetFileName(testImages)}: expected images of {train.FeatureCount} pixels like {Path.GetFileName(trainImages)}, found {test.FeatureCount}");
        }
        return (train, test);
    }

    private static string FindFile(string folder, string stem)
    {
        // Some MNIST mirrors spell the stem with a dot ("train-images.idx3-ubyte").
        var dotted = stem.Replace("-idx", ".idx", StringComparison.Ordinal);
        foreach (var candidate in new[] { stem, stem + ".gz", dotted, dotted + ".gz" })
        {
            var path = Path.Combine(folder, candidate);
            if (File.Exists(path))
            {
                return path;
            }
        }
        throw new DataFormatException($"{folder}: expected an IDX file {stem} or {stem}.gz, found none");
    }

    private static Dataset Build(string imagesPath, string labelsPath, LabelSet labels, int classCount, string name)
    {
        var (features, rows, columns) = ReadImages(imagesPath);
        var count = features.Length / (rows * columns);
        if (count != labels.Targets.Length)
        {
            throw new DataFormatException(
                $"{Path.GetFileName(labelsPath)}: expected {count} labels, one per image in {Path.GetFileName(imagesPath)}, found {labels.Targets.Length}");
        }
        return new Dataset(name, PixelNames(rows, columns), "label", TaskKind.Classification, classCount, features, labels.Targets);
    }

    private static string[] PixelNames(int rows, int columns)
    {
        var names = new string[rows * columns];
        for (var r = 0; r < rows; r++)
        {
            for (var c = 0; c < columns; c++)
            {
                names[r * columns + c] = string.Create(CultureInfo.InvariantCulture, $"pixel_{r}_{c}");
            }
        }
        return names;
    }

    private readonly record struct LabelSet(float[] Targets, int Max);

    private static LabelSet ReadLabels(string path) => Guard(path, ReadLabelsCore);

    private static (float[] Features, int Rows, int Columns) ReadImages(string path) => Guard(path, ReadImagesCore);

    /// <summary>Turns corrupt gzip data, which the decompressor reports as InvalidDataException, into a data error.</summary>
    private static T Guard<T>(string path, Func<string, T> read)
    {
        try
        {
            return read(path);
        }
        catch (InvalidDataException e)
        {
            throw new DataFormatException($"{Path.GetFileName(path)}: corrupt gzip data: {e.Message.ReplaceLineEndings(" ")}", e);
        }
    }

    private static LabelSet ReadLabelsCore(string path)
    {
        var file = Path.GetFileName(path);
        using var stream = Open(path, out var compressed);
        Span<byte> header = stackalloc byte[8];
        ReadHeader(stream, header, file, compressed);
        CheckMagic(header, LabelsMagic, "labels", file);
        var count = BinaryPrimitives.ReadInt32BigEndian(header[4..]);
        if (count < 0)
        {
            throw new DataFormatException($"{file}: expected a non-negative label count in the header, found {count}");
        }

        var bytes = new byte[count];
        var read = stream.ReadAtLeast(bytes, count, throwOnEndOfStream: false);
        if (read < count)
        {
            throw new DataFormatException(
                $"{file}: truncated: header promises {count} labels ({8L + count} bytes) but the {Describe(compressed)} has {8L + read}");
        }
        CheckNoTrailingBytes(stream, file, compressed, 8L + count, $"{count} labels");

        var targets = new float[count];
        TensorPrimitives.ConvertTruncating<byte, float>(bytes, targets);
        var max = count == 0 ? 0 : (int)TensorPrimitives.Max<byte>(bytes);
        return new LabelSet(targets, max);
    }

    private static (float[] Features, int Rows, int Columns) ReadImagesCore(string path)
    {
        var file = Path.GetFileName(path);
        using var stream = Open(path, out var compressed);
        Span<byte> header = stackalloc byte[16];
        ReadHeader(stream, header, file, compressed);
        CheckMagic(header, ImagesMagic, "images", file);
        var count = BinaryPrimitives.ReadInt32BigEndian(header[4..]);
        var rows = BinaryPrimitives.ReadInt32BigEndian(header[8..]);
        var columns = BinaryPrimitives.ReadInt32BigEndian(header[12..]);
        if (count < 0 || rows <= 0 || columns <= 0)
        {
            throw new DataFormatException(
                $"{file}: expected a non-negative image count and positive dimensions in the header, found {count} images of {rows}x{columns}");
        }
        var pixels = (long)count * rows * columns;
        var promise = $"{count} images of {rows}x{columns}";
        if (pixels > Array.MaxLength)
        {
            throw new DataFormatException($"{file}: too large: header promises {promise}, more pixels than one array can hold");
        }

        // Decode in chunks straight into the float array, so the raw bytes are never held whole.
        var features = new float[pixels];
        var chunk = new byte[Math.Min(pixels, 1 << 16)];
        long done = 0;
        while (done < pixels)
        {
            var want = (int)Math.Min(chunk.Length, pixels - done);
            var read = stream.ReadAtLeast(chunk.AsSpan(0, want), want, throwOnEndOfStream: false);
            TensorPrimitives.ConvertTruncating<byte, float>(chunk.AsSpan(0, read), features.AsSpan((int)done, read));
            done += read;
            if (read < want)
            {
                throw new DataFormatException(
                    $"{file}: truncated: header promises {promise} ({16 + pixels} bytes) but the {Describe(compressed)} has {16 + done}");
            }
        }
        CheckNoTrailingBytes(stream, file, compressed, 16 + pixels, promise);
        return (features, rows, columns);
    }

    /// <summary>Opens the file, wrapped in a decompressor when it starts with the gzip magic 1f 8b.</summary>
    private static Stream Open(string path, out bool compressed)
    {
        if (!File.Exists(path))
        {
            throw new DataFormatException($"{path}: no such file");
        }
        var file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16);
        Span<byte> magic = stackalloc byte[2];
        var read = file.ReadAtLeast(magic, 2, throwOnEndOfStream: false);
        file.Position = 0;
        compressed = read == 2 && magic[0] == 0x1f && magic[1] == 0x8b;
        return compressed ? new GZipStream(file, CompressionMode.Decompress) : file;
    }

    private static void ReadHeader(Stream stream, Span<byte> header, string file, bool compressed)
    {
        var read = stream.ReadAtLeast(header, header.Length, throwOnEndOfStream: false);
        if (read < header.Length)
        {
            throw new DataFormatException($"{file}: truncated: expected an IDX header of {header.Length} bytes, but the {Describe(compressed)} has {read}");
        }
    }

    private static void CheckMagic(ReadOnlySpan<byte> header, int expected, string kind, string file)
    {
        var magic = BinaryPrimitives.ReadInt32BigEndian(header);
        if (magic != expected)
        {
            var hint = magic switch
            {
                ImagesMagic => " (an images file)",
                LabelsMagic => " (a labels file)",
                _ when (magic & unchecked((int)0xFFFF0000)) != 0 => " (not an IDX file)",
                _ => " (an IDX file of another element type or rank)",
            };
            throw new DataFormatException(
                $"{file}: expected IDX {kind} magic 0x{expected:X8} (unsigned bytes, {expected & 0xFF} dimensions), found 0x{magic:X8}{hint}");
        }
    }

    private static void CheckNoTrailingBytes(Stream stream, string file, bool compressed, long expectedBytes, string promise)
    {
        Span<byte> probe = stackalloc byte[4096];
        long extra = 0;
        int read;
        while ((read = stream.Read(probe)) > 0)
        {
            extra += read;
        }
        if (extra > 0)
        {
            throw new DataFormatException(
                $"{file}: {extra} trailing bytes: header promises {promise} ({expectedBytes} bytes) but the {Describe(compressed)} has {expectedBytes + extra}");
        }
    }

    private static string Describe(bool compressed) => compressed ? "decompressed file" : "file";
}
