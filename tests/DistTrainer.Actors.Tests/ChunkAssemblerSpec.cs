using Akka.Actor;
using DistTrainer.Actors.Messages;
using DistTrainer.Actors.Transfer;

namespace DistTrainer.Actors.Tests;

public sealed class ChunkAssemblerSpec
{
    private static readonly IActorRef _sender = ActorRefs.Nobody;

    [Fact]
    public void ChunkAssembler_should_rebuild_a_tensor_sent_in_chunks()
    {
        var data = TestData.Random(1000, 3);
        var outgoing = OutgoingTensor.Create(data, 9, 128);
        Assert.Equal(8, outgoing.Chunks.Count);
        var assembler = new ChunkAssembler(4, 1000);
        foreach (var chunk in outgoing.Chunks.Reverse())
        {
            Assert.True(assembler.Add(_sender, chunk, out var reason, out _), reason);
        }
        Assert.True(assembler.TryTake(_sender, 1000, 9, [], 1000, out var tensor, out var why), why);
        var copy = new float[1000];
        tensor.CopyTo(copy);
        Assert.Equal(data, copy);
        Assert.Equal(0, assembler.OpenTransfers);
    }

    [Fact]
    public void ChunkAssembler_should_reject_an_incomplete_set()
    {
        var outgoing = OutgoingTensor.Create(TestData.Random(1000, 3), 9, 128);
        var assembler = new ChunkAssembler(4, 1000);
        foreach (var chunk in outgoing.Chunks.Where(c => c.Index != 5))
        {
            assembler.Add(_sender, chunk, out _, out _);
        }
        Assert.False(assembler.TryTake(_sender, 1000, 9, [], 1000, out _, out var reason));
        Assert.Contains("incomplete", reason);
        Assert.Equal(0, assembler.OpenTransfers);
    }

    [Fact]
    public void ChunkAssembler_should_reject_duplicated_and_out_of_range_chunks()
    {
        var assembler = new ChunkAssembler(4, 1000);
        var first = new TensorChunk(3, 0, 2, 8, 0, [1, 2, 3, 4]);
        Assert.True(assembler.Add(_sender, first, out _, out _));
        Assert.False(assembler.Add(_sender, first, out var duplicate, out _));
        Assert.Contains("twice", duplicate);
        Assert.False(assembler.Add(_sender, new TensorChunk(4, 2, 2, 8, 4, [1, 2, 3, 4]), out var outside, out _));
        Assert.Contains("outside", outside);
        Assert.False(assembler.Add(_sender, new TensorChunk(5, 1, 2, 8, 6, [1, 2, 3, 4]), out var overflow, out _));
        Assert.Contains("outside the tensor", overflow);
        Assert.False(assembler.Add(_sender, new TensorChunk(6, 0, 2, 2000, 0, [1]), out var tooLong, out _));
        Assert.Contains("exceeds", tooLong);
    }

    [Fact]
    public void ChunkAssembler_should_reject_overlapping_chunks_and_a_wrong_length()
    {
        var assembler = new ChunkAssembler(4, 100);
        assembler.Add(_sender, new TensorChunk(3, 0, 2, 8, 0, [1, 2, 3, 4]), out _, out _);
        assembler.Add(_sender, new TensorChunk(3, 1, 2, 8, 2, [1, 2, 3, 4]), out _, out _);
        Assert.False(assembler.TryTake(_sender, 8, 3, [], 8, out _, out var overlap));
        Assert.Contains("gap or overlap", overlap);
        Assert.False(assembler.TryTake(_sender, 3, 0, [1, 2, 3], 8, out _, out var length));
        Assert.Contains("expected 8", length);
    }

    [Fact]
    public void ChunkAssembler_should_drop_the_oldest_transfer_beyond_its_limit()
    {
        var assembler = new ChunkAssembler(2, 100);
        for (var id = 1; id <= 3; id++)
        {
            assembler.Add(_sender, new TensorChunk(id, 0, 2, 8, 0, [1, 2, 3, 4]), out _, out var evicted);
            Assert.Equal(id == 3, evicted is not null);
        }
        Assert.Equal(2, assembler.OpenTransfers);
    }

    [Fact]
    public void IsFinite_should_detect_nan_and_infinity_anywhere()
    {
        for (var position = 0; position < 37; position++)
        {
            var values = TestData.Random(37, position);
            Assert.True(ReceivedTensor.IsFinite(values));
            values[position] = float.NaN;
            Assert.False(ReceivedTensor.IsFinite(values));
            values[position] = float.NegativeInfinity;
            Assert.False(ReceivedTensor.IsFinite(values));
        }
    }

    [Fact]
    public void Assembler_should_hand_over_a_tensor_that_came_in_one_pooled_piece()
    {
        const int length = 1251; // a length no other test rents from the shared pool
        var whole = ChunkArrayPool.Received.Rent(length);
        var assembler = new ChunkAssembler(4, length);
        Assert.True(assembler.Add(_sender, new TensorChunk(31, 0, 1, length, 0, whole), out var reason, out _), reason);
        Assert.True(assembler.TryTake(_sender, length, 31, [], length, out _, out var why), why);
        Assert.True(assembler.TryKeep(out var kept));
        Assert.Same(whole, kept);
        Assert.False(assembler.TryKeep(out _)); // handed over once
        assembler.Forget(_sender); // the next call must not recycle the kept array
        Assert.NotSame(whole, ChunkArrayPool.Received.Rent(length));
    }

    [Fact]
    public void Assembler_should_keep_a_tensor_of_several_pieces_or_a_rejected_one()
    {
        var outgoing = OutgoingTensor.Create(TestData.Random(1000, 4), 32, 128);
        var assembler = new ChunkAssembler(4, 1000);
        foreach (var chunk in outgoing.Chunks)
        {
            assembler.Add(_sender, chunk, out _, out _);
        }
        Assert.True(assembler.TryTake(_sender, 1000, 32, [], 1000, out _, out var why), why);
        Assert.False(assembler.TryKeep(out _));

        assembler.Add(_sender, new TensorChunk(33, 0, 1, 1000, 0, new float[1000]), out _, out _);
        Assert.False(assembler.TryTake(_sender, 999, 33, [], 999, out _, out _)); // wrong length
        Assert.False(assembler.TryKeep(out _));
    }
}
