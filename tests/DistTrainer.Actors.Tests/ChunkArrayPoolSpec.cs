using Akka.Actor;
using DistTrainer.Actors.Messages;
using DistTrainer.Actors.Transfer;

namespace DistTrainer.Actors.Tests;

public sealed class ChunkArrayPoolSpec
{
    private static readonly IActorRef _sender = ActorRefs.Nobody;

    [Fact]
    public void Pool_should_lend_a_returned_array_again()
    {
        var pool = new ChunkArrayPool();
        var first = pool.Rent(300);
        Assert.Equal(300, first.Length);
        pool.Return(first);
        Assert.Same(first, pool.Rent(300));
    }

    [Fact]
    public void Pool_should_ignore_arrays_it_did_not_lend_and_second_returns()
    {
        var pool = new ChunkArrayPool();
        pool.Return(new float[300]);
        var lent = pool.Rent(300);
        pool.Return(lent);
        pool.Return(lent);
        Assert.Same(lent, pool.Rent(300));
        Assert.NotSame(lent, pool.Rent(300)); // returned twice, kept once
    }

    [Fact]
    public void Assembler_should_give_pooled_arrays_back_after_the_taken_tensor_and_keep_foreign_ones()
    {
        const int piece = 1237; // a length no other test rents from the shared pool
        var data = TestData.Random(2 * piece, 5);
        var arrays = new[] { ChunkArrayPool.Received.Rent(piece), ChunkArrayPool.Received.Rent(piece) };
        var assembler = new ChunkAssembler(4, data.Length);
        for (var i = 0; i < 2; i++)
        {
            data.AsSpan(i * piece, piece).CopyTo(arrays[i]);
            Assert.True(assembler.Add(_sender, new TensorChunk(21, i, 2, data.Length, i * piece, arrays[i]), out var reason, out _), reason);
        }
        Assert.True(assembler.TryTake(_sender, data.Length, 21, [], data.Length, out var tensor, out var why), why);
        var copy = new float[data.Length];
        tensor.CopyTo(copy);
        Assert.Equal(data, copy); // still intact: nothing is recycled before the next call

        assembler.Forget(_sender);
        var again = new[] { ChunkArrayPool.Received.Rent(piece), ChunkArrayPool.Received.Rent(piece) };
        Assert.Contains(again[0], arrays);
        Assert.Contains(again[1], arrays);
    }

    [Fact]
    public void Assembler_should_give_back_the_arrays_of_a_dropped_transfer()
    {
        const int piece = 1239;
        var array = ChunkArrayPool.Received.Rent(piece);
        var assembler = new ChunkAssembler(4, 3 * piece);
        Assert.True(assembler.Add(_sender, new TensorChunk(22, 0, 3, 3 * piece, 0, array), out _, out _));
        Assert.False(assembler.Add(_sender, new TensorChunk(22, 0, 3, 3 * piece, 0, new float[piece]), out var reason, out _));
        Assert.Contains("arrived twice", reason);
        Assert.Same(array, ChunkArrayPool.Received.Rent(piece));
    }

    [Fact]
    public void Outgoing_tensor_should_recycle_its_array_only_after_the_sender_and_every_writer_are_done()
    {
        const int piece = 1241;
        var tensor = OutgoingTensor.Create(TestData.Random(2 * piece, 6), 23, piece);
        var array = ChunkArrayPool.Outgoing.Rent(2 * piece);
        ChunkArrayPool.Outgoing.Return(array); // the next rent of this length takes it back first
        tensor.Hold(); // a bulk writer that has not written it yet
        tensor.Release();
        Assert.Same(array, ChunkArrayPool.Outgoing.Rent(2 * piece)); // the tensor's own array is still out
        tensor.Unhold();
        Assert.Equal(TestData.Random(2 * piece, 6), ChunkArrayPool.Outgoing.Rent(2 * piece)); // its array, lent again
    }

    [Fact]
    public void Outgoing_tensor_should_be_read_only_once_sent()
    {
        var tensor = OutgoingTensor.Rent(10, 25, 4);
        tensor.Buffer.Fill(1);
        tensor.Hold();
        Assert.Throws<InvalidOperationException>(() => tensor.Buffer.Fill(2));
        tensor.Unhold();
        tensor.Release();
    }

    [Fact]
    public void Outgoing_tensor_should_never_recycle_chunks_a_caller_has_read()
    {
        const int piece = 1243;
        var tensor = OutgoingTensor.Create(TestData.Random(2 * piece, 7), 24, piece);
        var arrays = tensor.Chunks.Select(c => c.Data).ToArray();
        tensor.Release();
        Assert.DoesNotContain(ChunkArrayPool.Outgoing.Rent(piece), arrays);
        Assert.DoesNotContain(ChunkArrayPool.Outgoing.Rent(piece), arrays);
    }
}
