using System.Buffers;
using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using System.Runtime.InteropServices;
using Microsoft.AspNetCore.Connections;

namespace OmniGateway.Hosting;

/// <summary>
/// The memory Kestrel's socket transport reads into and writes from, in 16 KiB blocks instead of Kestrel's 4 KiB.
/// One receive fills at most one block, so a 9 MiB inline-audio body took ~2 300 reads plus as many zero-byte
/// wait reads (strace: 4 760 system calls, issue 11) before the gateway could validate it; with 16 KiB blocks it
/// takes a quarter of that, and the body is in sooner. Small calls are unchanged: a request or an SSE event uses
/// one block either way. 64 KiB blocks measured no better than 16 KiB, and a connection trickling its headers
/// holds one block for as long as Kestrel lets it (RequestHeadersTimeout): 16 KiB keeps that at 4× Kestrel's.
/// </summary>
/// <remarks>
/// Blocks are pinned (the socket pins every buffer it is handed; a pinned array makes that free) and reused, so a
/// rent allocates nothing. An idle connection holds none: Kestrel waits for data with a zero-byte read, and a pipe
/// hands its block back once everything in it is consumed. Free blocks are kept as long as a load needs them and
/// let go once it has passed, as Kestrel's own pool does (.NET 10): every <see cref="TrimInterval"/>,
/// <see cref="Trim"/> drops the blocks that stayed free through the whole interval. A fixed cap instead was either
/// too low (64 per pool: at 200 connections, 6.5 KiB of blocks made and dropped per stream) or kept a burst's peak
/// (1 024: after the bench's bursts, its soak's live heap stayed ~75 MiB above the 4 KiB pool's for 80 000 streams).
/// <see cref="MaxRetainedBlocks"/> still bounds what one pool keeps between trims.
/// </remarks>
internal sealed class TransportBlockPool : MemoryPool<byte>
{
    public const int BlockSize = 16 * 1024;
    public const int MaxRetainedBlocks = 4096; // 64 MiB per pool (the transport makes one per I/O queue)
    public static readonly TimeSpan TrimInterval = TimeSpan.FromSeconds(10);

    private readonly ConcurrentQueue<Block> _free = new();
    private readonly Counter<long>? _allocatedBytes;
    private int _freeCount;
    private int _fewestFreeSinceTrim; // blocks no rent needed since the last trim: the next trim drops that many
    private volatile bool _disposed;

    /// <param name="allocatedBytes">Counts the bytes of every block made (not reused).</param>
    public TransportBlockPool(Counter<long>? allocatedBytes = null) => _allocatedBytes = allocatedBytes;

    public override int MaxBufferSize => BlockSize;

    /// <summary>Free blocks kept for reuse.</summary>
    public int RetainedBlocks => Volatile.Read(ref _freeCount);

    public override IMemoryOwner<byte> Rent(int minBufferSize = -1)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(minBufferSize, BlockSize);
        if (_free.TryDequeue(out var block))
        {
            var free = Interlocked.Decrement(ref _freeCount);
            if (free < Volatile.Read(ref _fewestFreeSinceTrim)) Volatile.Write(ref _fewestFreeSinceTrim, free); // a race only makes a trim keep more
            block.Lease();
            return block;
        }
        Volatile.Write(ref _fewestFreeSinceTrim, 0);
        _allocatedBytes?.Add(BlockSize);
        return new Block(this);
    }

    /// <summary>Lets go of the blocks that stayed free since the last trim (none was rented out of them).</summary>
    public void Trim()
    {
        // Until a rent lowers it, the next interval's mark says "none needed": an idle pool is emptied by the next trim.
        var unneeded = Interlocked.Exchange(ref _fewestFreeSinceTrim, int.MaxValue);
        for (var i = 0; i < unneeded && _free.TryDequeue(out _); i++) Interlocked.Decrement(ref _freeCount);
    }

    protected override void Dispose(bool disposing)
    {
        _disposed = true;
        while (_free.TryDequeue(out _)) Interlocked.Decrement(ref _freeCount);
    }

    private void Return(Block block)
    {
        if (_disposed || Interlocked.Increment(ref _freeCount) > MaxRetainedBlocks)
        {
            if (!_disposed) Interlocked.Decrement(ref _freeCount);
            return; // to the GC
        }
        _free.Enqueue(block);
    }

    private sealed class Block : IMemoryOwner<byte>
    {
        private readonly TransportBlockPool _pool;
        private int _leased = 1;

        public Block(TransportBlockPool pool)
        {
            _pool = pool;
            Memory = MemoryMarshal.CreateFromPinnedArray(GC.AllocateUninitializedArray<byte>(BlockSize, pinned: true), 0, BlockSize);
        }

        public Memory<byte> Memory { get; }

        public void Lease() => Volatile.Write(ref _leased, 1);

        // A second Dispose must not hand the block out twice: two connections would share one buffer.
        public void Dispose()
        {
            if (Interlocked.Exchange(ref _leased, 0) == 1) _pool.Return(this);
        }
    }
}

/// <summary>
/// Replaces Kestrel's pool factory, which its socket transport takes from DI (.NET 10). Reports
/// <c>omnigateway_transport_blocks_allocated_bytes_total</c> (rising fast under a steady load: blocks are made and
/// dropped) and <c>omnigateway_transport_blocks_retained_bytes</c> (free blocks kept for reuse).
/// </summary>
internal sealed class TransportBlockPoolFactory : IMemoryPoolFactory<byte>, IDisposable
{
    private readonly ConcurrentQueue<TransportBlockPool> _pools = new();
    private readonly Counter<long> _allocatedBytes;
    private readonly ITimer _trim;

    public TransportBlockPoolFactory(IMeterFactory meterFactory, TimeProvider time)
    {
        _trim = time.CreateTimer(_ => { foreach (var pool in _pools) pool.Trim(); }, null, TransportBlockPool.TrimInterval, TransportBlockPool.TrimInterval);
        var meter = meterFactory.Create(Observability.GatewayMetrics.MeterName);
        _allocatedBytes = meter.CreateCounter<long>("omnigateway.transport.blocks.allocated", unit: "By",
            description: "Bytes of socket blocks made because none was free to reuse");
        meter.CreateObservableGauge("omnigateway.transport.blocks.retained", () => _pools.Sum(pool => (long)pool.RetainedBlocks * TransportBlockPool.BlockSize),
            unit: "By", description: "Bytes of free socket blocks kept for reuse");
    }

    public MemoryPool<byte> Create(MemoryPoolOptions? options = null)
    {
        var pool = new TransportBlockPool(_allocatedBytes);
        _pools.Enqueue(pool); // one per I/O queue and listener, for the process's life
        return pool;
    }

    public void Dispose() => _trim.Dispose();
}

public static class TransportBlockPoolExtensions
{
    /// <summary>
    /// 16 KiB socket blocks (see <see cref="TransportBlockPool"/>). The last registration wins: a later
    /// <c>UseKestrel</c> (WebApplicationFactory's) registers Kestrel's own factory again.
    /// </summary>
    public static WebApplicationBuilder AddTransportBlocks(this WebApplicationBuilder builder)
    {
        builder.Services.AddSingleton<IMemoryPoolFactory<byte>, TransportBlockPoolFactory>();
        return builder;
    }
}
