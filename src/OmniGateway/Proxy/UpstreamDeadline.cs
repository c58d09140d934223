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

    // One source and one timer for every clock: the timer is always set to the nearer of the current bound
    // (first byte, idle gap or drain) and the stream's end; shutdown cancels it through one registration.
    // Three sources, two timers and a linked source were a thirtieth of what a stream allocated (issue 11).
    private readonly CancellationTokenSource _read;
    private readonly CancellationToken _shutdown;
    private readonly CancellationTokenRegistration _onShutdown;
    private readonly long _started;
    private readonly TimeSpan _maxDuration;
    private readonly TimeSpan _idle;
    private volatile bool _cancelledByShutdown;
    private readonly ClientAbortPolicy _policy;
    private readonly TimeSpan _drainTimeout;
    private readonly TimeSpan _drainAfterContentTimeout;
    private volatile bool _contentComplete;
    private int _client;

    public UpstreamDeadline(UpstreamOptions options, UsageOptions usage, TimeProvider time, CancellationToken shutdown = default)
    {
        Time = time;
        _idle = options.IdleTimeout;
        _maxDuration = options.MaxStreamDuration;
        _started = time.GetTimestamp();
        _read = new CancellationTokenSource(Min(options.FirstByteTimeout, _maxDuration), time);
        _shutdown = shutdown;
        _onShutdown = shutdown.UnsafeRegister(static state => ((UpstreamDeadline)state!).OnShutdown(), this);
        (_policy, _drainTimeout, _drainAfterContentTimeout) = (usage.OnClientAbort, usage.DrainTimeout, usage.DrainAfterContentTimeout);
    }

    public TimeProvider Time { get; }

    /// <summary>Timers, lifetime and shutdown: every upstream read and the forward itself take it.</summary>
    public CancellationToken ReadToken => _read.Token;

    /// <summary>A bound ran out (or the upstream was cancelled for a departed client); not the gateway's shutdown.</summary>
    public bool Expired => _read.IsCancellationRequested && !_cancelledByShutdown;

    public bool ShuttingDown => _shutdown.IsCancellationRequested;

    /// <summary>Set when the client left; reads then only go on to drain the usage.</summary>
    public bool ClientHasLeft => Volatile.Read(ref _client) != Present;

    public void ResetIdle()
    {
        if (Volatile.Read(ref _client) == Present) SetTimer(_idle);
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
        if (drain) SetTimer(_policy == ClientAbortPolicy.Drain ? _drainTimeout : _drainAfterContentTimeout);
        else _read.Cancel();
        return drain;
    }

    /// <summary>The bound from now, but never past the stream's maximum duration.</summary>
    private void SetTimer(TimeSpan bound)
    {
        var left = _maxDuration - Time.GetElapsedTime(_started);
        // At or past the end: as soon as the timer can (a timer thread cancels, as the lifetime timer did).
        _read.CancelAfter(left > TimeSpan.Zero ? Min(bound, left) : TimeSpan.FromMilliseconds(1));
    }

    private static TimeSpan Min(TimeSpan a, TimeSpan b) => a < b ? a : b; // both positive: the options validator refuses anything else

    private void OnShutdown()
    {
        // A bound that already ran out stays the reason.
        if (_read.IsCancellationRequested) return;
        _cancelledByShutdown = true;
        try
        {
            _read.Cancel();
        }
        catch (ObjectDisposedException)
        {
            // The call ended while the gateway began shutting down: nothing left to cancel.
        }
    }

    public void Dispose()
    {
        _onShutdown.Dispose();
        _read.Dispose();
    }
}
