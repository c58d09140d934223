using System.Runtime.CompilerServices;
using OmniGateway.Observability;
using OmniGateway.Proxy;
using OmniGateway.Tenants;
using OmniGateway.Upstream;
using OmniGateway.Validation;

namespace OmniGateway.Usage;

/// <summary>
/// The accounting of one proxied call: when it started, and the one place its usage record is made from
/// what happened (<see cref="RelayResult"/>) and stored. The relay records through it before relaying a
/// terminal event (so the client never sees a completion that is not stored); the forwarder, for every
/// other end (<see cref="RecordUnlessHandedOverAsync"/>), so each call is recorded once.
/// </summary>
public sealed class CallAccount
{
    private readonly TenantContext _tenant;
    private readonly TimeProvider _time;
    private readonly UsageRecorder _recorder;
    private readonly Pricing.PriceTable _prices;
    private readonly GatewayMetrics _metrics;
    private readonly DateTimeOffset _startedAt;
    private readonly long _startTimestamp;

    /// <param name="started">The call's upstream side, when its first try was started while the body arrived.</param>
    public CallAccount(string requestId, TenantContext tenant, ValidatedRequest request, TimeProvider time, UsageRecorder recorder,
        Pricing.PriceTable prices, GatewayMetrics metrics, UpstreamCall? started = null)
    {
        (RequestId, _tenant, Request, _time, _recorder, _prices, _metrics) = (requestId, tenant, request, time, recorder, prices, metrics);
        _startedAt = time.GetUtcNow();
        _startTimestamp = time.GetTimestamp();
        Upstream = started ?? new UpstreamCall(requestId, request.UpstreamBody, request.BodyBuffer);
    }

    public string RequestId { get; }
    public ValidatedRequest Request { get; }

    /// <summary>Filled in by the retry handler: how many tries the call took.</summary>
    public UpstreamCall Upstream { get; }

    public ValueTask RecordAsync(RelayResult result)
    {
        var terminal = result.Terminal;
        var record = new UsageRecord(RequestId, _tenant.TenantId, _tenant.KeyId, Request.Model.Id, Request.Voice, Request.Modalities,
            _startedAt, result.Started ? _time.GetElapsedTime(_startTimestamp, result.FirstEventTimestamp).TotalMilliseconds : null,
            _time.GetElapsedTime(_startTimestamp).TotalMilliseconds, OutcomeOf(result), terminal?.ResponseId ?? result.ResponseId, terminal?.Usage) { UpstreamAttempts = Upstream.Attempts, ReservedTokens = Request.ReservedTokens, Tags = Request.Tags,
              ReservedCost = Request.ReservedCost?.Amount,
              // Priced once, here: the stored amount is what history keeps, whatever the table says later.
              Cost = _prices.CostOf(Request.Model.Id, _startedAt, terminal?.Usage, Request.ReservedCost?.Price) };
        _metrics.CallRecorded(record);
        return _recorder.RecordAsync(record);
    }

    /// <summary>Every end the relay did not record itself. A failed store is logged by the recorder and kept by the ledger's journal.</summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    public async ValueTask RecordUnlessHandedOverAsync(RelayResult result)
    {
        if (result.RecordHandedOver) return;
        try
        {
            await RecordAsync(result);
        }
        catch (Exception exception) when (exception is not OperationCanceledException)
        {
        }
    }

    /// <summary>Contract 5's outcomes: the upstream's own word where a terminal event came, else how the stream ended.</summary>
    public static UsageOutcome OutcomeOf(in RelayResult result) => result.End switch
    {
        RelayEnd.Relayed or RelayEnd.TerminalNotRecorded => result.Terminal?.Outcome ?? UsageOutcome.Completed,
        RelayEnd.EndedAfterDone => UsageOutcome.Completed,
        RelayEnd.ClientGone => UsageOutcome.ClientAborted,
        RelayEnd.Empty or RelayEnd.Refused or RelayEnd.Unreachable => UsageOutcome.UpstreamError,
        RelayEnd.Broken or RelayEnd.TimedOut when !result.Started => UsageOutcome.UpstreamError,
        _ => UsageOutcome.Interrupted, // closed early, broken or timed out mid-stream, ended by the shutdown
    };
}
