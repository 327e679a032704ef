using DistTrainer.Actors.Transfer;

namespace DistTrainer.Actors.Tests;

public sealed class ChunkLayoutSpec
{
    private static string? Check(int count, int total, params (int Index, int Offset, int Length)[] chunks)
    {
        var layout = new ChunkLayout();
        layout.Reset(count, chunks.Length);
        for (var k = 0; k < chunks.Length; k++)
        {
            layout.Set(k, chunks[k].Index, chunks[k].Offset, chunks[k].Length);
        }
        return layout.Check(total);
    }

    [Fact]
    public void Layout_should_accept_a_complete_set_in_any_wire_order()
    {
        Assert.Null(Check(3, 10, (2, 8, 2), (0, 0, 4), (1, 4, 4)));
    }

    [Fact]
    public void Layout_should_reject_a_repeated_chunk()
    {
        Assert.Contains("chunk 0 arrived twice", Check(2, 8, (0, 0, 4), (0, 0, 4)));
    }

    [Fact]
    public void Layout_should_reject_out_of_range_chunks()
    {
        Assert.Contains("index 2 is outside 0..1", Check(2, 8, (0, 0, 4), (2, 4, 4)));
        Assert.Contains("covers [6, 10) outside the tensor of 8", Check(2, 8, (0, 0, 4), (1, 6, 4)));
    }

    [Fact]
    public void Layout_should_reject_an_incomplete_set()
    {
        Assert.Contains("incomplete, 2 of 3 chunks (first missing: 1)", Check(3, 12, (0, 0, 4), (2, 8, 4)));
    }

    [Fact]
    public void Layout_should_reject_gaps_and_overlaps()
    {
        Assert.Contains("chunk 1 starts at 3, expected 4", Check(2, 8, (0, 0, 4), (1, 3, 4)));
        Assert.Contains("chunks cover 6 values, expected 8", Check(2, 8, (0, 0, 4), (1, 4, 2)));
    }

    [Fact]
    public void Layout_should_read_chunks_sent_out_of_order_into_place()
    {
        var layout = new ChunkLayout();
        layout.Reset(2, 2);
        layout.Set(0, 1, 3, 2);
        layout.Set(1, 0, 0, 3);
        Assert.Null(layout.Check(5));
        var wire = new MemoryStream();
        foreach (var value in new[] { 4f, 5f, 1f, 2f, 3f })
        {
            wire.Write(BitConverter.GetBytes(value));
        }
        wire.Position = 0;
        var data = new float[5];
        layout.ReadInto(wire, data);
        Assert.Equal([1f, 2f, 3f, 4f, 5f], data);
    }
}
