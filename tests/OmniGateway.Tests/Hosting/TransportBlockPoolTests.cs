using System.Diagnostics.Metrics;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;
using OmniGateway.Hosting;

namespace OmniGateway.Tests.Hosting;

/// <summary>The socket transport's pool: 16 KiB blocks, reused without allocating, never handed to two holders, let go once a load has passed.</summary>
public sealed class TransportBlockPoolTests
{
    [Fact]
    public void Rent_GivesA16KiBBlock_ForAnyRequestUpToIt()
    {
        using var pool = new TransportBlockPool();
        using var small = pool.Rent(1);
        using var whole = pool.Rent(TransportBlockPool.BlockSize);

        Assert.Equal(16 * 1024, small.Memory.Length);
        Assert.Equal(16 * 1024, whole.Memory.Length);
        Assert.Throws<ArgumentOutOfRangeException>(() => pool.Rent(TransportBlockPool.BlockSize + 1));
    }

    [Fact]
    public void ReturnedBlock_IsReused_WithoutAllocating()
    {
        using var pool = new TransportBlockPool();
        pool.Rent().Dispose(); // first block made
        var before = GC.GetAllocatedBytesForCurrentThread();
        for (var i = 0; i < 1000; i++) pool.Rent().Dispose();
        var allocated = GC.GetAllocatedBytesForCurrentThread() - before;

        Assert.True(allocated < 1024, $"1 000 rents allocated {allocated} bytes");
    }

    [Fact]
    public void DisposingTwice_DoesNotHandTheBlockToTwoHolders()
    {
        using var pool = new TransportBlockPool();
        var block = pool.Rent();
        block.Dispose();
        block.Dispose();

        using var first = pool.Rent();
        using var second = pool.Rent();
        first.Memory.Span.Fill(1);
        second.Memory.Span.Fill(2);

        Assert.False(first.Memory.Span.Overlaps(second.Memory.Span));
        Assert.Equal(1, first.Memory.Span[^1]);
    }

    [Fact]
    public void FreeBlocks_AreKeptUpToTheCap_TheRestLeftToTheGC()
    {
        using var pool = new TransportBlockPool();
        var held = Enumerable.Range(0, TransportBlockPool.MaxRetainedBlocks + 50).Select(_ => pool.Rent()).ToList();
        foreach (var block in held) block.Dispose();

        Assert.Equal(TransportBlockPool.MaxRetainedBlocks, pool.RetainedBlocks);
    }

    [Fact]
    public void Trim_LetsGoOfTheBlocksNoRentNeededThroughAWholeInterval()
    {
        using var pool = new TransportBlockPool();
        var burst = Enumerable.Range(0, 300).Select(_ => pool.Rent()).ToList();
        foreach (var block in burst) block.Dispose();

        pool.Trim(); // the burst's interval: every block was needed
        Assert.Equal(300, pool.RetainedBlocks);

        var steady = Enumerable.Range(0, 100).Select(_ => pool.Rent()).ToList(); // a lighter load: 100 at once
        foreach (var block in steady) block.Dispose();
        pool.Trim();
        Assert.Equal(100, pool.RetainedBlocks);

        pool.Trim(); // idle since: nothing was needed
        Assert.Equal(0, pool.RetainedBlocks);
    }

    [Fact]
    public void TheFactory_TrimsItsPoolsEveryInterval()
    {
        var time = new FakeTimeProvider();
        using var meters = new ServiceCollection().AddMetrics().BuildServiceProvider();
        using var factory = new TransportBlockPoolFactory(meters.GetRequiredService<IMeterFactory>(), time);
        using var pool = (TransportBlockPool)factory.Create();
        foreach (var block in Enumerable.Range(0, 10).Select(_ => pool.Rent()).ToList()) block.Dispose();

        time.Advance(TransportBlockPool.TrimInterval);
        Assert.Equal(10, pool.RetainedBlocks);
        time.Advance(TransportBlockPool.TrimInterval);
        Assert.Equal(0, pool.RetainedBlocks);
    }

    [Fact]
    public void DisposedPool_RefusesRents_AndKeepsNothing()
    {
        var pool = new TransportBlockPool();
        var late = pool.Rent();
        pool.Dispose();
        late.Dispose(); // a connection finishing after the transport stopped

        Assert.Equal(0, pool.RetainedBlocks);
        Assert.Throws<ObjectDisposedException>(() => pool.Rent());
    }
}
