using DistTrainer.Cli.ModelFiles;
using DistTrainer.Cli.Run;

namespace DistTrainer.Cli.Tests.RunFiles;

public sealed class ModelFileTests : IDisposable
{
    private readonly TempFolder _folder = new();

    public void Dispose() => _folder.Dispose();

    private TrainedModel Trained()
    {
        var dir = Path.Combine(_folder.Path, "run");
        Directory.CreateDirectory(dir);
        return SmallRun.Train(dir).Model;
    }

    [Fact]
    public void Model_file_should_round_trip_spec_standardization_names_and_weights()
    {
        var model = Trained();
        var loaded = TrainedModel.FromBytes(model.ToBytes(), "memory");

        Assert.Equal(model.Spec, loaded.Spec);
        Assert.True(model.Weights.AsSpan().SequenceEqual(loaded.Weights));
        Assert.True(model.Standardizer.Mean.AsSpan().SequenceEqual(loaded.Standardizer.Mean));
        Assert.True(model.Standardizer.Scale.AsSpan().SequenceEqual(loaded.Standardizer.Scale));
        Assert.Equal(model.TargetScaling, loaded.TargetScaling);
        Assert.Equal(model.FeatureNames, loaded.FeatureNames);
        Assert.Equal(model.LabelName, loaded.LabelName);
        Assert.Equal(model.ClassNames, loaded.ClassNames);
        Assert.Equal("digits", loaded.DatasetName);
    }

    [Fact]
    public void Model_file_written_by_train_should_load_with_the_trained_weights()
    {
        var dir = Path.Combine(_folder.Path, "run");
        Directory.CreateDirectory(dir);
        var result = SmallRun.Train(dir);
        var loaded = TrainedModel.Load(Path.Combine(dir, TrainingRun.ModelFileName));
        Assert.True(result.Model.Weights.AsSpan().SequenceEqual(loaded.Weights));
    }

    [Theory]
    [InlineData(0)]
    [InlineData(5)]
    [InlineData(47)]
    [InlineData(100)]
    [InlineData(-1)]
    public void Truncated_model_file_should_be_rejected_with_a_one_line_message(int keep)
    {
        var bytes = Trained().ToBytes();
        var truncated = bytes[..(keep >= 0 ? keep : bytes.Length + keep)];
        var e = Assert.Throws<ModelFileException>(() => TrainedModel.FromBytes(truncated, "m.dtm"));
        Assert.StartsWith("m.dtm: ", e.Message, StringComparison.Ordinal);
        Assert.True(e.Message.Contains("truncated", StringComparison.Ordinal) || e.Message.Contains("not a DistTrainer model file", StringComparison.Ordinal), e.Message);
        Assert.DoesNotContain('\n', e.Message);
    }

    [Fact]
    public void Flipped_payload_byte_should_fail_the_checksum()
    {
        var bytes = Trained().ToBytes();
        bytes[DtmContainer.HeaderSize + bytes.Length / 2 - DtmContainer.HeaderSize / 2] ^= 0x40;
        var e = Assert.Throws<ModelFileException>(() => TrainedModel.FromBytes(bytes, "m.dtm"));
        Assert.Equal("m.dtm: corrupt model file: checksum mismatch", e.Message);
    }

    [Fact]
    public void Wrong_magic_or_version_or_kind_should_be_named_in_the_error()
    {
        var bytes = Trained().ToBytes();
        var magic = (byte[])bytes.Clone();
        magic[1] = (byte)'X';
        Assert.Contains("not a DistTrainer model file", Assert.Throws<ModelFileException>(() => TrainedModel.FromBytes(magic, "m")).Message, StringComparison.Ordinal);
        var version = (byte[])bytes.Clone();
        version[8] = 99;
        Assert.Contains("format version 99 is not supported", Assert.Throws<ModelFileException>(() => TrainedModel.FromBytes(version, "m")).Message, StringComparison.Ordinal);
        var kind = (byte[])bytes.Clone();
        kind[10] = (byte)DtmContentKind.Checkpoint;
        Assert.Contains("expected a model file, found a checkpoint", Assert.Throws<ModelFileException>(() => TrainedModel.FromBytes(kind, "m")).Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Corrupt_model_file_should_exit_non_zero_with_one_error_line_and_no_stack_trace()
    {
        var bytes = Trained().ToBytes();
        bytes[^3] ^= 0xFF;
        var path = _folder.Write("corrupt.dtm", bytes);
        var input = _folder.Write("in.csv", "a,b\n1,2\n");

        var result = await DistTrainerProcess.RunAsync("predict", "--model", path, "--input", input);

        Assert.Equal(1, result.ExitCode);
        Assert.Equal([$"error: {path}: corrupt model file: checksum mismatch"], result.StandardErrorLines);
    }
}
