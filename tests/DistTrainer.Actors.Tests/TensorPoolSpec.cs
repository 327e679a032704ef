using DistTrainer.Actors.Transfer;

namespace DistTrainer.Actors.Tests;

public sealed class TensorPoolSpec
{
    [Fact]
    public void An_array_should_come_back_only_after_its_last_holder_releases_it()
    {
        var pool = new TensorPool(8);
        var array = pool.Rent();
        var lease = pool.Lease(array, holders: 2);

        lease.Release();
        Assert.NotSame(array, pool.Rent());
        lease.Release();
        Assert.Same(array, pool.Rent());
    }

    [Fact]
    public void Releasing_more_often_than_shared_should_throw()
    {
        var pool = new TensorPool(4);
        var lease = pool.Lease(pool.Rent(), holders: 1);
        lease.Release();
        Assert.Throws<InvalidOperationException>(lease.Release);
    }

    [Fact]
    public void A_shared_array_should_come_back_only_after_every_new_holder_releases_it()
    {
        var pool = new TensorPool(8);
        var array = pool.Rent();
        var lease = pool.Lease(array, holders: 1);
        lease.Share(2);

        lease.Release();
        lease.Release();
        Assert.NotSame(array, pool.Rent());
        lease.Release();
        Assert.Same(array, pool.Rent());
    }

    [Fact]
    public void Sharing_after_the_last_release_should_throw()
    {
        var pool = new TensorPool(4);
        var lease = pool.Lease(pool.Rent(), holders: 1);
        lease.Release();
        Assert.Throws<InvalidOperationException>(() => lease.Share(1));
    }

    [Fact]
    public void An_array_of_another_length_should_never_enter_the_pool()
    {
        var pool = new TensorPool(4);
        var foreign = new float[5];
        pool.Lease(foreign, holders: 1).Release();
        Assert.Equal(4, pool.Rent().Length);
    }
}
