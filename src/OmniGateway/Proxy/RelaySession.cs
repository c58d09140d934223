using OmniGateway.Observability;
using OmniGateway.Tenants;
using OmniGateway.Usage;
using OmniGateway.Validation;

namespace OmniGateway.Proxy;

/// <summary>
/// The accounting side of one proxied call: when it started, when its first event went out, and the
/// one usage record it produces — stored exactly once, whichever way the call ends.
/// </summary>
public sealed class RelaySession
{
    private readonly string _requestId;
    private readonly TenantContext _tenant;
    private readonly TimeProvider _time;
    private readonly UsageRecorder _recorder;
    private readonly GatewayMetrics _metrics;
    private readonly DateTimeOffset _startedAt;
    private readonly long _startTimestamp;
    private double? _timeToFirstByteMs;

    public RelaySession(string requestId, TenantContext tenant, ValidatedRequest request, TimeProvider time, UsageRecorder recorder, GatewayMetrics metrics)
    {
        (_requestId, _tenant, Request, _time, _recorder, _metrics) = (requestId, tenant, request, time, recorder, metrics);
        _startedAt = time.GetUtcNow();
        _startTimestamp = time.GetTimestamp();
        Upstream = new UpstreamCall(requestId, request.UpstreamBody);
        metrics.CallStarted();
    }

    public string RequestId => _requestId;
    public ValidatedRequest Request { get; }

    /// <summary>Filled in by the retry handler: how many tries the call took.</summary>
    public UpstreamCall Upstream { get; }
    public bool Recorded { get; private set; }
    public bool FirstEventSeen => _timeToFirstByteMs is not null;

    /// <summary>From <c>response.created</c>; a terminal event's own id wins.</summary>
    public string? UpstreamResponseId { get; set; }

    public void MarkFirstEvent() => _timeToFirstByteMs ??= _time.GetElapsedTime(_startTimestamp).TotalMilliseconds;

    public async ValueTask RecordAsync(UsageOutcome outcome, TerminalEvent? terminal = null)
    {
        if (Recorded) return;
        Recorded = true;
        var record = new UsageRecord(_requestId, _tenant.TenantId, _tenant.KeyId, Request.Model.Id, Request.Voice, Request.Modalities,
            _startedAt, _timeToFirstByteMs, _time.GetElapsedTime(_startTimestamp).TotalMilliseconds, outcome,
            terminal?.ResponseId ?? UpstreamResponseId, terminal?.Usage) { UpstreamAttempts = Upstream.Attempts, Tags = Request.Tags };
        _metrics.CallRecorded(record);
        await _recorder.RecordAsync(record);
    }
}
