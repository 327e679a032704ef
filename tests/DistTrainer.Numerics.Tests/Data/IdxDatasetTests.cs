using System.Numerics.Tensors;
using DistTrainer.Numerics.Data;

namespace DistTrainer.Numerics.Tests.Data;

public class IdxDatasetTests
{
    private static readonly byte[] _labels = [0, 2, 1];

    private static string LoadPairError(byte[] images, byte[] labels)
    {
        using var folder = new TempFolder();
        var imagesPath = folder.Write("images-idx3-ubyte", images);
        var labelsPath = folder.Write("labels-idx1-ubyte", labels);
        var e = Assert.Throws<DataFormatException>(() => IdxDataset.LoadPair(imagesPath, labelsPath, "t"));
        Assert.DoesNotContain('\n', e.Message);
        return e.Message;
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Idx_should_read_pixels_as_floats_row_major_plain_or_gzip(bool gzip)
    {
        using var folder = new TempFolder();
        var images = TestData.IdxImages(3, 2, 3, i => (byte)(i * 10));
        var labels = TestData.IdxLabels(_labels);
        // The names carry no ".gz": compression is recognised by the magic bytes.
        var imagesPath = folder.Write("img", gzip ? TestData.Gzip(images) : images);
        var labelsPath = folder.Write("lbl", gzip ? TestData.Gzip(labels) : labels);

        var data = IdxDataset.LoadPair(imagesPath, labelsPath, "t");

        Assert.Equal(3, data.Count);
        Assert.Equal(["pixel_0_0", "pixel_0_1", "pixel_0_2", "pixel_1_0", "pixel_1_1", "pixel_1_2"], data.FeatureNames);
        Assert.Equal([60f, 70f, 80f, 90f, 100f, 110f], data.Row(1).ToArray());
        Assert.Equal([0f, 2f, 1f], data.Targets);
        Assert.Equal(TaskKind.Classification, data.Task);
        Assert.Equal(3, data.ClassCount);
    }

    [Fact]
    public void Idx_should_reject_wrong_images_magic()
    {
        var message = LoadPairError(TestData.IdxImages(3, 2, 2, magic: 0x801), TestData.IdxLabels(_labels));
        Assert.Equal("images-idx3-ubyte: expected IDX images magic 0x00000803 (unsigned bytes, 3 dimensions), found 0x00000801 (a labels file)", message);
    }

    [Fact]
    public void Idx_should_reject_wrong_labels_magic()
    {
        var message = LoadPairError(TestData.IdxImages(3, 2, 2), TestData.IdxLabels(_labels, magic: 0x12345678));
        Assert.Equal("labels-idx1-ubyte: expected IDX labels magic 0x00000801 (unsigned bytes, 1 dimensions), found 0x12345678 (not an IDX file)", message);
    }

    [Fact]
    public void Idx_should_reject_truncated_images()
    {
        var images = TestData.IdxImages(3, 2, 2);
        var message = LoadPairError(images[..^5], TestData.IdxLabels(_labels));
        Assert.Equal("images-idx3-ubyte: truncated: header promises 3 images of 2x2 (28 bytes) but the file has 23", message);
    }

    [Fact]
    public void Idx_should_reject_a_truncated_header()
    {
        var message = LoadPairError(TestData.IdxImages(3, 2, 2)[..10], TestData.IdxLabels(_labels));
        Assert.Equal("images-idx3-ubyte: truncated: expected an IDX header of 16 bytes, but the file has 10", message);
    }

    [Fact]
    public void Idx_should_reject_truncated_labels()
    {
        var message = LoadPairError(TestData.IdxImages(3, 2, 2), TestData.IdxLabels(_labels)[..^1]);
        Assert.Equal("labels-idx1-ubyte: truncated: header promises 3 labels (11 bytes) but the file has 10", message);
    }

    [Fact]
    public void Idx_should_reject_trailing_bytes()
    {
        var images = TestData.IdxImages(3, 2, 2);
        var message = LoadPairError([.. images, 1, 2], TestData.IdxLabels(_labels));
        Assert.Equal("images-idx3-ubyte: 2 trailing bytes: header promises 3 images of 2x2 (28 bytes) but the file has 30", message);
    }

    [Fact]
    public void Idx_should_reject_a_truncated_gzip_file()
    {
        var images = TestData.IdxImages(200, 28, 28, i => (byte)(i * 7919 % 251));
        var gzip = TestData.Gzip(images);
        var message = LoadPairError(gzip[..(gzip.Length / 2)], TestData.IdxLabels(_labels));
        Assert.StartsWith("images-idx3-ubyte: ", message);
        Assert.True(message.Contains("truncated", StringComparison.Ordinal) || message.Contains("corrupt gzip", StringComparison.Ordinal), message);
    }

    [Fact]
    public void Idx_should_reject_corrupt_gzip_data()
    {
        var gzip = TestData.Gzip(TestData.IdxImages(3, 2, 2));
        for (var i = 10; i < gzip.Length - 8; i++)
        {
            gzip[i] = 0xff;
        }
        var message = LoadPairError(gzip, TestData.IdxLabels(_labels));
        Assert.StartsWith("images-idx3-ubyte: ", message);
    }

    [Fact]
    public void Idx_should_reject_a_label_count_that_differs_from_the_image_count()
    {
        var message = LoadPairError(TestData.IdxImages(4, 2, 2), TestData.IdxLabels(_labels));
        Assert.Equal("labels-idx1-ubyte: expected 4 labels, one per image in images-idx3-ubyte, found 3", message);
    }

    [Fact]
    public void Idx_should_reject_nonsense_dimensions()
    {
        var message = LoadPairError(TestData.IdxImages(2, 0, 2), TestData.IdxLabels([0, 1]));
        Assert.Contains("positive dimensions", message, StringComparison.Ordinal);
    }

    [Fact]
    public void Idx_should_name_the_missing_file_of_a_folder()
    {
        using var folder = new TempFolder();
        folder.Write("train-images-idx3-ubyte", TestData.IdxImages(3, 2, 2));
        var e = Assert.Throws<DataFormatException>(() => IdxDataset.LoadFolder(folder.Path));
        Assert.Equal($"{folder.Path}: expected an IDX file train-labels-idx1-ubyte or train-labels-idx1-ubyte.gz, found none", e.Message);
    }

    [Fact]
    public void Idx_should_give_train_and_test_the_same_class_count()
    {
        using var folder = new TempFolder();
        folder.Write("train-images-idx3-ubyte.gz", TestData.Gzip(TestData.IdxImages(3, 2, 2)));
        folder.Write("train-labels-idx1-ubyte.gz", TestData.Gzip(TestData.IdxLabels(_labels)));
        folder.Write("t10k-images-idx3-ubyte", TestData.IdxImages(2, 2, 2));
        folder.Write("t10k-labels-idx1-ubyte", TestData.IdxLabels([4, 0]));
        var (train, test) = IdxDataset.LoadFolder(folder.Path);
        Assert.Equal(5, train.ClassCount);
        Assert.Equal(5, test.ClassCount);
        Assert.Equal(2, test.Count);
    }

    [Fact]
    public void Idx_should_load_fashion_mnist_with_its_shapes_labels_and_pixel_range()
    {
        var (train, test) = IdxDataset.LoadFolder(TestData.Shared("fashion-mnist"));

        Assert.Equal(60000, train.Count);
        Assert.Equal(10000, test.Count);
        Assert.Equal(784, train.FeatureCount);
        Assert.Equal("pixel_27_27", train.FeatureNames[^1]);
        Assert.Equal(10, train.ClassCount);
        Assert.Equal(10, test.ClassCount);
        Assert.Equal("fashion-mnist", train.Name);
        Assert.Equal([9f, 0f, 0f, 3f, 0f, 2f, 7f, 2f, 5f, 5f], train.Targets[..10]);
        Assert.Equal([9f, 2f, 1f, 1f, 6f, 1f, 4f, 6f, 5f, 7f], test.Targets[..10]);
        Assert.Equal(0f, TensorPrimitives.Min<float>(train.Features));
        Assert.Equal(255f, TensorPrimitives.Max<float>(train.Features));
        Assert.All(Enumerable.Range(0, 10), c => Assert.Equal(6000, train.Targets.Count(t => t == c)));
    }
}
