using DistTrainer.Actors.Cluster;
using DistTrainer.Actors.Coordinator;
using DistTrainer.Actors.Messages;
using DistTrainer.Actors.Worker;
using DistTrainer.Numerics.Data;

namespace DistTrainer.Actors.Tests;

public sealed class ShardTests
{
    [Theory]
    [InlineData(1437, 3, 1)]
    [InlineData(1437, 2, 32)]
    [InlineData(40, 3, 10)]
    [InlineData(5, 8, 1)]
    public void Even_layout_should_cover_every_row_once_in_near_equal_ranges_starting_on_block_boundaries(int rows, int workers, int block)
    {
        var layout = ShardLayout.Even(rows, workers, block);
        Assert.Equal(workers, layout.Length);
        Assert.Equal(Enumerable.Range(0, rows), layout.SelectMany(r => Enumerable.Range(r.Start, r.Count)));
        Assert.All(layout, r => Assert.Equal(0, r.Start % block));
        var blocks = layout.Select(r => (r.Count + block - 1) / block).ToArray();
        Assert.True(blocks.Max() - blocks.Min() <= 1, string.Join(" ", layout));
        Assert.Equal((rows + block - 1) / block, blocks.Sum()); // async: as many batches as sync steps
    }

    [Fact]
    public void Shard_should_copy_only_its_ranges_and_map_global_rows_to_them()
    {
        var train = TestData.DigitsTrain;
        var shard = TrainingShard.Cut(train, [new RowRange(5, 3), new RowRange(100, 2)], train.Count);
        Assert.Equal(5, shard.Count);
        Assert.Equal([-1, 0, 2, -1, 3, 4, -1], new[] { 4, 5, 7, 8, 100, 101, 102 }.Select(shard.LocalIndex));
        Assert.True(shard.Row(3).SequenceEqual(train.Row(100)));
        Assert.Equal(train.Targets[7], shard.Target(2));
        Assert.True(shard.HoldsAll([101, 5, 6]));
        Assert.False(shard.HoldsAll([101, 8]));
    }

    [Fact]
    public void Shard_should_refuse_ranges_outside_or_out_of_order_and_a_split_of_another_size()
    {
        var train = TestData.DigitsTrain;
        var outside = Assert.Throws<InvalidDataException>(() => TrainingShard.Cut(train, [new RowRange(train.Count - 1, 2)], train.Count));
        Assert.Contains("outside", outside.Message, StringComparison.Ordinal);
        Assert.Throws<InvalidDataException>(() => TrainingShard.Cut(train, [new RowRange(10, 5), new RowRange(12, 5)], train.Count));
        var size = Assert.Throws<InvalidDataException>(() => TrainingShard.Cut(train, [new RowRange(0, 5)], train.Count + 1));
        Assert.Contains($"has {train.Count} rows, the job's has {train.Count + 1}", size.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Reloading_data_should_keep_only_the_shard_and_refuse_data_that_changed_since_the_node_joined()
    {
        var train = TestData.DigitsTrain;
        var reads = 0;
        var data = new ReloadingTrainingData(() => ++reads <= 2 ? train : train.Select(Enumerable.Range(0, train.Count).Reverse().ToList()));
        Assert.Equal(DataFingerprint.Describe(train), data.Description);

        Assert.Equal(10, data.LoadShard([new RowRange(0, 10)], train.Count).Count); // cut from the first read
        Assert.Equal(1, reads);
        Assert.Equal(20, data.LoadShard([new RowRange(0, 20)], train.Count).Count); // read again
        Assert.Equal(2, reads);
        var changed = Assert.Throws<InvalidDataException>(() => data.LoadShard([new RowRange(0, 10)], train.Count));
        Assert.Contains("changed since this node joined", changed.Message, StringComparison.Ordinal);
    }
}
