using OmniGateway.Upstream;
using OmniGateway.Usage;

namespace OmniGateway.Proxy;

/// <summary>
/// The one clock of a proxied call: the first-byte timeout until the first event, then the idle gap
/// between reads, the stream's maximum duration, the gateway's shutdown — and, once the client has
/// left, the decision between cancelling the upstream and reading its answer on to the usage.
/// <see cref="ReadToken"/> never carries the client's disconnect itself: whether a departure cancels
/// the read is decided here (<see cref="ClientLeft"/>), not by a linked token.
/// </summary>
public sealed class UpstreamDeadline : IDisposable
{
    private const int Present = 0, Cancelled = 1, Draining = 2;

    private readonly CancellationTokenSource _timer;
    private readonly CancellationTokenSource _lifetime;
    private readonly CancellationTokenSource _read;
    private readonly CancellationToken _shutdown;
    private readonly TimeSpan _idle;
    private readonly ClientAbortPolicy _policy;
    private readonly TimeSpan _drainTimeout;
    private readonly TimeSpan _drainAfterContentTimeout;
    private volatile bool _contentComplete;
    private int _client;

    public UpstreamDeadline(UpstreamOptions options, UsageOptions usage, TimeProvider time, CancellationToken shutdown = default)
    {
        Time = time;
        _idle = options.IdleTimeout;
        _timer = new CancellationTokenSource(options.FirstByteTimeout, time);
        _lifetime = new CancellationTokenSource(options.MaxStreamDuration, time);
        _shutdown = shutdown;
        _read = CancellationTokenSource.CreateLinkedTokenSource(_timer.Token, _lifetime.Token, shutdown);
        (_policy, _drainTimeout, _drainAfterContentTimeout) = (usage.OnClientAbort, usage.DrainTimeout, usage.DrainAfterContentTimeout);
    }

    public TimeProvider Time { get; }

    /// <summary>Timers, lifetime and shutdown: every upstream read and the forward itself take it.</summary>
    public CancellationToken ReadToken => _read.Token;

    public bool Expired => _timer.IsCancellationRequested || _lifetime.IsCancellationRequested;

    public bool ShuttingDown => _shutdown.IsCancellationRequested;

    /// <summary>Set when the client left; reads then only go on to drain the usage.</summary>
    public bool ClientHasLeft => Volatile.Read(ref _client) != Present;

    public void ResetIdle()
    {
        if (Volatile.Read(ref _client) == Present) _timer.CancelAfter(_idle);
    }

    /// <summary>The answer's last output item is done: the client now holds all of it.</summary>
    public void MarkContentComplete() => _contentComplete = true;

    /// <summary>
    /// The client is gone. True: read on, unrelayed, to the terminal event — the content is complete
    /// (bounded by <c>Usage:DrainAfterContentTimeout</c>) or the policy is Drain (<c>Usage:DrainTimeout</c>).
    /// False: the upstream is cancelled, which saves the rest of the generation. Decided once; thread-safe
    /// (the client's disconnect calls it from its own thread).
    /// </summary>
    public bool ClientLeft()
    {
        var drain = _policy == ClientAbortPolicy.Drain || _contentComplete;
        var decided = Interlocked.CompareExchange(ref _client, drain ? Draining : Cancelled, Present);
        if (decided != Present) return decided == Draining;
        if (drain) _timer.CancelAfter(_policy == ClientAbortPolicy.Drain ? _drainTimeout : _drainAfterContentTimeout);
        else _timer.Cancel();
        return drain;
    }

    public void Dispose()
    {
        _read.Dispose();
        _lifetime.Dispose();
        _timer.Dispose();
    }
}
