using System.Buffers;
using System.IO.Pipelines;
using OmniGateway.Errors;
using OmniGateway.Proxy;
using OmniGateway.Upstream;
using OmniGateway.Usage;

namespace OmniGateway.Bench.Micro;

/// <summary>
/// The gateway's own relay pump (<see cref="SseRelay.RelayAsync"/>) between a <see cref="ReplayUpstream"/>
/// and a client pipe drained after each flush as Kestrel's transport would. Only the two ends are
/// stand-ins; every per-event step is the production code, so an allocation or a slowdown added to it
/// shows here and in <c>HotPathAllocationTests</c>. Reused across runs, so a warm run allocates only
/// what the relay itself allocates.
/// </summary>
public sealed class RelayHarness
{
    private static readonly UpstreamOptions Timeouts = new();
    private static readonly UsageOptions Usage = new();
    private static readonly Func<RelayResult, ValueTask> StoreNothing = static _ => ValueTask.CompletedTask;

    private readonly ClientPipeTarget _client = new();

    /// <summary>A fresh deadline per stream, as the forwarder makes one; outside what <see cref="RelayAsync(ReplayUpstream, UpstreamDeadline)"/> measures.</summary>
    public static UpstreamDeadline NewDeadline() => new(Timeouts, Usage, TimeProvider.System);

    public async ValueTask<TapResult> RelayAsync(ReplayUpstream upstream)
    {
        using var deadline = NewDeadline();
        return await RelayAsync(upstream, deadline);
    }

    public ValueTask<TapResult> RelayAsync(ReplayUpstream upstream, UpstreamDeadline deadline)
    {
        upstream.Reset();
        _client.Reset();
        var pending = SseRelay.RelayAsync(upstream, "text/event-stream", _client, deadline, StoreNothing, CancellationToken.None);
        // Neither end ever waits, so the pump completes synchronously; awaiting would box its state machine.
        return pending.IsCompletedSuccessfully ? new(Tap(pending.Result)) : Await(pending);
    }

    private async ValueTask<TapResult> Await(ValueTask<RelayResult> pending) => Tap(await pending);

    private TapResult Tap(in RelayResult result) =>
        new(_client.Events, _client.TerminalEvents, result.Terminal?.ResponseId ?? result.ResponseId, result.Terminal?.Usage?.TotalTokens ?? 0, _client.Relayed);

    /// <summary>
    /// As <c>ClientStreamTarget</c>: segment by segment into a <see cref="PipeWriter"/>; each flush is taken by the "transport".
    /// It takes events whole (no <see cref="RelayTarget.TakesPartialEvents"/>), so each write is one event.
    /// </summary>
    private sealed class ClientPipeTarget : RelayTarget
    {
        // Inline schedulers and no back-pressure: the pump writes and the transport drains on one thread, never waiting.
        private readonly Pipe _pipe = new(new PipeOptions(pool: new KeptBlocks(), readerScheduler: PipeScheduler.Inline, writerScheduler: PipeScheduler.Inline,
            pauseWriterThreshold: 0, resumeWriterThreshold: 0, useSynchronizationContext: false));

        public int Events { get; private set; }
        public int TerminalEvents { get; private set; }
        public long Relayed { get; private set; }

        public void Reset()
        {
            _pipe.Writer.Complete();
            _pipe.Reader.Complete();
            _pipe.Reset();
            (Events, TerminalEvents, Relayed) = (0, 0, 0);
        }

        public override ValueTask StartAsync(string? upstreamContentType) => ValueTask.CompletedTask;

        public override void Write(in ReadOnlySequence<byte> bytes, SseEventKind kind)
        {
            Events++;
            if (SseFraming.IsTerminal(kind)) TerminalEvents++;
            foreach (var segment in bytes) _pipe.Writer.Write(segment.Span);
        }

        public override ValueTask<bool> FlushAsync(CancellationToken cancellationToken)
        {
            var flush = _pipe.Writer.FlushAsync(cancellationToken);
            if (!flush.IsCompletedSuccessfully) throw new InvalidOperationException("The client pipe has no back-pressure; a flush cannot wait.");
            if (_pipe.Reader.TryRead(out var sent))
            {
                Relayed += sent.Buffer.Length;
                _pipe.Reader.AdvanceTo(sent.Buffer.End);
            }
            return new ValueTask<bool>(true);
        }

        public override ValueTask EndWithErrorAsync(string message, CancellationToken cancellationToken, string code = StreamInterrupted) => ValueTask.CompletedTask;

        public override Task FailAsync(GatewayError error) => Task.CompletedTask;
    }

    /// <summary>
    /// The "transport's" blocks, 4 KiB like Kestrel's and kept like Kestrel's pool keeps them. A stream read at once reaches
    /// the client pipe whole before its one flush (2 048 deltas: ~50 blocks); the shared ArrayPool keeps fewer per core and
    /// dropped the rest, so the transport's buffers were counted as the relay's allocations (93 B per delta event).
    /// </summary>
    private sealed class KeptBlocks : MemoryPool<byte>
    {
        private const int BlockSize = 4096;
        private readonly Stack<Block> _free = new(); // one thread: the pipe's schedulers are inline

        public override int MaxBufferSize => BlockSize;

        public override IMemoryOwner<byte> Rent(int minBufferSize = -1) =>
            minBufferSize > BlockSize ? throw new ArgumentOutOfRangeException(nameof(minBufferSize))
            : _free.TryPop(out var block) ? block : new Block(this);

        protected override void Dispose(bool disposing) => _free.Clear();

        private sealed class Block(KeptBlocks pool) : IMemoryOwner<byte>
        {
            private readonly byte[] _array = new byte[BlockSize];

            public Memory<byte> Memory => _array;

            public void Dispose() => pool._free.Push(this);
        }
    }
}
