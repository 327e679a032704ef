using DistTrainer.Numerics.Kernels;

namespace DistTrainer.Numerics.Tests.Kernels;

public class RowGatherTests
{
    [Theory]
    [InlineData(1, 5)]      // narrow rows: the prefetch reaches past the last row
    [InlineData(64, 40)]    // digits
    [InlineData(784, 256)]  // MNIST: a few rows ahead
    [InlineData(3, 0)]
    public void Gather_should_copy_the_chosen_rows_in_order(int width, int count)
    {
        var random = new Random(width + count);
        const int tableRows = 300;
        var table = Enumerable.Range(0, tableRows * width).Select(_ => random.NextSingle()).ToArray();
        var rows = Enumerable.Range(0, count).Select(_ => random.Next(tableRows)).ToArray();
        var destination = new float[count * width + 7];
        destination.AsSpan(count * width).Fill(-1f);

        RowGather.Gather(table, width, rows, destination);

        for (var i = 0; i < count; i++)
        {
            Assert.Equal(table.AsSpan(rows[i] * width, width).ToArray(), destination.AsSpan(i * width, width).ToArray());
        }
        Assert.All(destination.AsSpan(count * width).ToArray(), v => Assert.Equal(-1f, v)); // nothing past the batch
    }

    [Fact]
    public void Gather_should_refuse_a_destination_too_small_for_the_rows()
    {
        var error = Assert.Throws<ArgumentException>(() => RowGather.Gather(new float[40], 4, [1, 2, 3], new float[11]));
        Assert.Contains("3 rows of 4 need 12", error.Message);
    }

    [Fact]
    public void Gather_should_refuse_a_row_outside_the_table() =>
        Assert.Throws<ArgumentOutOfRangeException>(() => RowGather.Gather(new float[40], 4, [1, 10], new float[8]));
}
