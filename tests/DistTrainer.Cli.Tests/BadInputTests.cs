using System.Buffers.Binary;

namespace DistTrainer.Cli.Tests;

/// <summary>
/// Bad input through the real program: a non-zero exit code (1 for bad data, 2 for bad usage), exactly one line on
/// stderr that starts with "error:" and names the file and, for CSV, the 1-based line and column, and no stack trace.
/// </summary>
public sealed class BadInputTests : IDisposable
{
    private readonly TempFolder _folder = new();

    public void Dispose() => _folder.Dispose();

    [Fact]
    public async Task Non_numeric_field_should_name_file_line_and_column()
    {
        var path = _folder.Write("bad.csv", "a,b,label\n1,2,0\n3,oops,1\n");
        var error = await RunExpectingError(1, "train", "--data", path);
        Assert.Equal($"error: {path}:3: column 2 (b): expected a number, found \"oops\"", error);
    }

    [Fact]
    public async Task Short_row_should_name_file_line_and_the_missing_column()
    {
        var path = _folder.Write("short.csv", "a,b,label\n1,2,0\n4,5,1\n6,7\n");
        var error = await RunExpectingError(1, "train", "--data", path);
        Assert.StartsWith($"error: {path}:4: column 3 (label): missing", error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Long_row_should_name_file_line_and_the_extra_column()
    {
        var path = _folder.Write("long.csv", "a,b,label\n1,2,0\n3,4,1,9\n");
        var error = await RunExpectingError(1, "train", "--data", path);
        Assert.StartsWith($"error: {path}:3: column 4: expected 3 columns as in the header, found 4", error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Empty_file_should_be_reported_at_line_one()
    {
        var path = _folder.Write("empty.csv", "");
        var error = await RunExpectingError(1, "train", "--data", path);
        Assert.Equal($"error: {path}:1: expected a header line of column names, found an empty file", error);
    }

    [Fact]
    public async Task Label_out_of_range_for_forced_classification_should_name_file_line_and_column()
    {
        var path = _folder.Write("labels.csv", "a,b,label\n1,2,0\n3,4,1\n5,6,-1\n");
        var error = await RunExpectingError(1, "train", "--data", path, "--task", "classification");
        Assert.StartsWith($"error: {path}:4: column 3 (label): label out of range", error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Truncated_idx_images_should_name_the_file()
    {
        var folder = WriteIdxFolder(trainImages: Images(4)[..^5], trainLabels: Labels(4));
        var error = await RunExpectingError(1, "train", "--data", folder);
        Assert.StartsWith("error: train-images-idx3-ubyte: truncated:", error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Truncated_gzip_idx_images_should_name_the_file()
    {
        var folder = Path.Combine(_folder.Path, "gz");
        Directory.CreateDirectory(folder);
        WriteIdxFiles(folder, Images(4), Labels(4));
        File.Delete(Path.Combine(folder, "train-images-idx3-ubyte"));
        var gzip = Gzip(Images(4));
        File.WriteAllBytes(Path.Combine(folder, "train-images-idx3-ubyte.gz"), gzip[..(gzip.Length / 2)]);

        var error = await RunExpectingError(1, "train", "--data", folder);
        Assert.StartsWith("error: train-images-idx3-ubyte.gz:", error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Mismatched_idx_image_and_label_counts_should_name_both_files()
    {
        var folder = WriteIdxFolder(trainImages: Images(4), trainLabels: Labels(3));
        var error = await RunExpectingError(1, "train", "--data", folder);
        Assert.Equal("error: train-labels-idx1-ubyte: expected 4 labels, one per image in train-images-idx3-ubyte, found 3", error);
    }

    [Fact]
    public async Task Missing_data_file_should_be_reported()
    {
        var path = Path.Combine(_folder.Path, "nowhere.csv");
        var error = await RunExpectingError(1, "train", "--data", path);
        Assert.Contains(path, error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Config_file_including_a_missing_file_should_name_both()
    {
        var path = _folder.Write("over.hocon", "include \"nowhere.hocon\"\nakka.loglevel = INFO\n");
        var error = await RunExpectingError(2, "node", "--role", "worker", "--config", path);
        Assert.Equal($"error: {path}: include \"nowhere.hocon\": no such file {Path.Combine(_folder.Path, "nowhere.hocon")}", error);
    }

    [Fact]
    public async Task Config_files_that_include_each_other_should_be_a_usage_error()
    {
        var first = _folder.Write("first.hocon", "include \"second.hocon\"\n");
        var second = _folder.Write("second.hocon", "include \"first.hocon\"\n");
        var error = await RunExpectingError(2, "node", "--role", "worker", "--config", first);
        Assert.Equal($"error: {second}: include cycle through {first}", error);
    }

    [Fact]
    public async Task Unknown_option_should_be_a_usage_error()
    {
        var error = await RunExpectingError(2, "train", "--epochz", "3");
        Assert.StartsWith("error: unknown option --epochz for 'train'", error, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("ten", "error: --epochs expects a whole number, got \"ten\"")]
    [InlineData("2.5", "error: --epochs expects a whole number, got \"2.5\"")]
    [InlineData("0", "error: --epochs must be")]
    public async Task Bad_number_for_epochs_should_be_a_usage_error(string value, string expectedStart)
    {
        var error = await RunExpectingError(2, "train", "--epochs", value);
        Assert.StartsWith(expectedStart, error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Option_without_its_value_should_be_a_usage_error()
    {
        var error = await RunExpectingError(2, "train", "--lr");
        Assert.Equal("error: option --lr needs a value", error);
    }

    [Theory]
    [InlineData("train", "--model", "rbm", "--workers", "2", "--persistent", "--checkpoint-every", "5")]
    [InlineData("node", "--role", "coordinator", "--model", "rbm", "--persistent", "--checkpoint-every", "5")]
    public async Task Persistent_cd_with_workers_and_mid_epoch_checkpoints_should_be_a_usage_error_that_leaves_no_run_folder(params string[] args)
    {
        var dir = Path.Combine(_folder.Path, "run");
        var error = await RunExpectingError(2, [.. args, "--out", dir]);
        Assert.Equal("error: --persistent with --workers keeps its fantasy chains in the workers, which checkpoints do not hold: use --resume and --checkpoint-every with --workers 0, or plain CD", error);
        Assert.False(Directory.Exists(dir), "the refused run created its folder");
    }

    [Theory]
    [InlineData("train")]
    [InlineData("train", "--model", "rbm")]
    [InlineData("node", "--role", "coordinator")]
    public async Task Bad_data_found_after_the_run_folder_was_chosen_should_leave_no_empty_folder(params string[] args)
    {
        var data = _folder.Write("bad-values.csv", "a,b,label\n1,2,0\n3,oops,1\n");
        var dir = Path.Combine(_folder.Path, "run-" + Guid.NewGuid().ToString("N"));
        var error = await RunExpectingError(1, [.. args, "--data", data, "--out", dir]);
        Assert.StartsWith($"error: {data}:3:", error, StringComparison.Ordinal);
        Assert.False(Directory.Exists(dir), "the failed run left its folder");
    }

    [Theory]
    [InlineData("worker", "--epochs", "error: --epochs is a coordinator option; this node's roles are worker")]
    [InlineData("coordinator,parameter-server", "--straggler", "error: --straggler is a worker option; this node's roles are coordinator,parameter-server")]
    public async Task Option_of_a_role_the_node_does_not_have_should_be_a_usage_error(string roles, string option, string expected)
    {
        var error = await RunExpectingError(2, "node", "--role", roles, option, "5");
        Assert.Equal(expected, error);
    }

    [Fact]
    public async Task Unknown_command_should_be_a_usage_error()
    {
        var error = await RunExpectingError(2, "fly");
        Assert.StartsWith("error: unknown command \"fly\"", error, StringComparison.Ordinal);
    }

    private static async Task<string> RunExpectingError(int exitCode, params string[] args)
    {
        var result = await DistTrainerProcess.RunAsync(args);
        Assert.True(result.ExitCode == exitCode, result.ToString());
        Assert.DoesNotContain("   at ", result.StandardError, StringComparison.Ordinal);
        Assert.DoesNotContain("Exception", result.StandardError, StringComparison.Ordinal);
        var lines = result.StandardErrorLines;
        Assert.True(lines.Length == 1, result.ToString());
        Assert.StartsWith("error: ", lines[0], StringComparison.Ordinal);
        return lines[0];
    }

    private string WriteIdxFolder(byte[] trainImages, byte[] trainLabels)
    {
        var folder = Path.Combine(_folder.Path, "idx-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(folder);
        WriteIdxFiles(folder, Images(4), Labels(4));
        File.WriteAllBytes(Path.Combine(folder, "train-images-idx3-ubyte"), trainImages);
        File.WriteAllBytes(Path.Combine(folder, "train-labels-idx1-ubyte"), trainLabels);
        return folder;
    }

    private static void WriteIdxFiles(string folder, byte[] images, byte[] labels)
    {
        File.WriteAllBytes(Path.Combine(folder, "train-images-idx3-ubyte"), images);
        File.WriteAllBytes(Path.Combine(folder, "train-labels-idx1-ubyte"), labels);
        File.WriteAllBytes(Path.Combine(folder, "t10k-images-idx3-ubyte"), images);
        File.WriteAllBytes(Path.Combine(folder, "t10k-labels-idx1-ubyte"), labels);
    }

    /// <summary>An IDX images file of <paramref name="count"/> 3×3 images.</summary>
    private static byte[] Images(int count)
    {
        var bytes = new byte[16 + count * 9];
        BinaryPrimitives.WriteInt32BigEndian(bytes, 0x803);
        BinaryPrimitives.WriteInt32BigEndian(bytes.AsSpan(4), count);
        BinaryPrimitives.WriteInt32BigEndian(bytes.AsSpan(8), 3);
        BinaryPrimitives.WriteInt32BigEndian(bytes.AsSpan(12), 3);
        for (var i = 16; i < bytes.Length; i++)
        {
            bytes[i] = (byte)(i * 37 % 256);
        }
        return bytes;
    }

    /// <summary>An IDX labels file of <paramref name="count"/> labels alternating 0 and 1.</summary>
    private static byte[] Labels(int count)
    {
        var bytes = new byte[8 + count];
        BinaryPrimitives.WriteInt32BigEndian(bytes, 0x801);
        BinaryPrimitives.WriteInt32BigEndian(bytes.AsSpan(4), count);
        for (var i = 0; i < count; i++)
        {
            bytes[8 + i] = (byte)(i % 2);
        }
        return bytes;
    }

    private static byte[] Gzip(byte[] data)
    {
        using var output = new MemoryStream();
        using (var gzip = new System.IO.Compression.GZipStream(output, System.IO.Compression.CompressionLevel.Fastest))
        {
            gzip.Write(data);
        }
        return output.ToArray();
    }
}
