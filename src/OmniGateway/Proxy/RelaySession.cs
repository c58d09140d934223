using OmniGateway.Tenants;
using OmniGateway.Usage;
using OmniGateway.Validation;

namespace OmniGateway.Proxy;

/// <summary>
/// The accounting side of one proxied call: when it started, when its first event went out, and the
/// one usage record it produces — stored exactly once, whichever way the call ends.
/// </summary>
public sealed class RelaySession(
    string requestId, TenantContext tenant, ValidatedRequest request, TimeProvider time, UsageRecorder recorder)
{
    private readonly DateTimeOffset _startedAt = time.GetUtcNow();
    private readonly long _startTimestamp = time.GetTimestamp();
    private double? _timeToFirstByteMs;

    public string RequestId => requestId;
    public ValidatedRequest Request => request;
    public bool Recorded { get; private set; }
    public bool FirstEventSeen => _timeToFirstByteMs is not null;

    public void MarkFirstEvent() => _timeToFirstByteMs ??= time.GetElapsedTime(_startTimestamp).TotalMilliseconds;

    public async ValueTask RecordAsync(UsageOutcome outcome, TerminalEvent? terminal = null)
    {
        if (Recorded) return;
        Recorded = true;
        var record = new UsageRecord(requestId, tenant.TenantId, tenant.KeyId, request.Model.Id, request.Voice, request.Modalities,
            _startedAt, _timeToFirstByteMs, time.GetElapsedTime(_startTimestamp).TotalMilliseconds, outcome,
            terminal?.ResponseId, terminal?.Usage);
        await recorder.RecordAsync(record);
    }
}
