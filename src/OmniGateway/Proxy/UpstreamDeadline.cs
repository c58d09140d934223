namespace OmniGateway.Proxy;

/// <summary>
/// The one clock of a proxied call: the first-byte timeout until the first event, then the idle gap
/// between reads, then — once a departed client's answer is being drained — the drain deadline.
/// <see cref="DrainToken"/> excludes the client's disconnect (so a drain can read on); it is only
/// handed out when <c>Usage:OnClientAbort=Drain</c>.
/// </summary>
public sealed class UpstreamDeadline : IDisposable
{
    private readonly CancellationTokenSource _timer;
    private readonly CancellationTokenSource _lifetime;
    private readonly CancellationTokenSource _drainToken;
    private readonly TimeSpan _idle;

    public UpstreamDeadline(UpstreamOptions options, TimeProvider time, bool drainOnClientAbort, TimeSpan drainTimeout)
    {
        _idle = options.IdleTimeout;
        _timer = new CancellationTokenSource(options.FirstByteTimeout, time);
        _lifetime = new CancellationTokenSource(options.MaxStreamDuration, time);
        _drainToken = CancellationTokenSource.CreateLinkedTokenSource(_timer.Token, _lifetime.Token);
        DrainOnClientAbort = drainOnClientAbort;
        DrainTimeout = drainTimeout;
    }

    public bool DrainOnClientAbort { get; }
    public TimeSpan DrainTimeout { get; }
    public bool Draining { get; private set; }

    /// <summary>First-byte and idle timer, linked by YARP with the client's disconnect and the stream's lifetime.</summary>
    public CancellationToken TimerToken => _timer.Token;

    /// <summary>Timer and lifetime only: reads with it survive the client leaving.</summary>
    public CancellationToken DrainToken => _drainToken.Token;

    public bool Expired => _timer.IsCancellationRequested || _lifetime.IsCancellationRequested;

    public void ResetIdle()
    {
        if (!Draining) _timer.CancelAfter(_idle);
    }

    public void StartDrain()
    {
        Draining = true;
        _timer.CancelAfter(DrainTimeout);
    }

    public void Dispose()
    {
        _drainToken.Dispose();
        _lifetime.Dispose();
        _timer.Dispose();
    }
}
