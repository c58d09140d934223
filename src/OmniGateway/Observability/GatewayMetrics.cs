using System.Diagnostics.Metrics;
using OmniGateway.Usage;

namespace OmniGateway.Observability;

/// <summary>
/// The gateway's own meters, exported at <c>/metrics</c>: calls by outcome, tokens, latency, open streams,
/// the ledger. Prometheus and OpenTelemetry conventions: durations in seconds, counters become <c>_total</c>,
/// labels from bounded sets only (operator-defined tenants, catalogue models, a fixed list of outcomes and kinds).
/// </summary>
public sealed class GatewayMetrics
{
    public const string MeterName = "OmniGateway";

    // From a fast first event to a long spoken answer; the SDK's default buckets are shaped for milliseconds.
    private static readonly IReadOnlyList<double> FirstEventBuckets = [0.05, 0.1, 0.25, 0.5, 0.75, 1, 1.5, 2, 3, 5, 7.5, 10, 15, 30, 60];
    private static readonly IReadOnlyList<double> DurationBuckets = [0.1, 0.25, 0.5, 1, 2, 5, 10, 20, 30, 60, 120, 300, 600, 1800];

    private readonly Counter<long> _responses;
    private readonly Counter<long> _tokens;
    private readonly Histogram<double> _timeToFirstEvent;
    private readonly Histogram<double> _duration;
    private readonly UpDownCounter<long> _activeStreams;
    private readonly Meter _meter;

    public GatewayMetrics(IMeterFactory meterFactory)
    {
        var meter = _meter = meterFactory.Create(MeterName);
        _responses = meter.CreateCounter<long>("omnigateway.responses", "{response}", "Accepted /v1/responses calls, by outcome");
        _tokens = meter.CreateCounter<long>("omnigateway.tokens", "{token}", "Tokens the upstream reported, by kind");
        _timeToFirstEvent = meter.CreateHistogram("omnigateway.time_to_first_event", "s", "Request start to the upstream's first event relayed",
            tags: null, advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = FirstEventBuckets });
        _duration = meter.CreateHistogram("omnigateway.response.duration", "s", "Request start to the usage record",
            tags: null, advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = DurationBuckets });
        _activeStreams = meter.CreateUpDownCounter<long>("omnigateway.streams.active", "{stream}", "Upstream streams being relayed to the client, or aggregated for stream:false");
    }

    /// <summary>An upstream answer began to stream (a refusal or an unanswered call is no stream).</summary>
    public void StreamOpened() => _activeStreams.Add(1);

    /// <summary>In a finally beside <see cref="StreamOpened"/>: no exception can leave the gauge unbalanced.</summary>
    public void StreamClosed() => _activeStreams.Add(-1);

    /// <summary>How well stream ends share commits (records ÷ commits), what durability costs (commit seconds)
    /// and whether the writer keeps up (records queued for it).</summary>
    public void ObserveLedger(GroupCommitLedger ledger)
    {
        _meter.CreateObservableCounter("omnigateway.ledger.commits", () => ledger.Commits, "{commit}", "Usage ledger transactions committed");
        _meter.CreateObservableCounter("omnigateway.ledger.records", () => ledger.RecordsCommitted, "{record}", "Usage records committed");
        _meter.CreateObservableCounter("omnigateway.ledger.commit_time", () => ledger.CommitTime.TotalSeconds, "s", "Time spent inside ledger commits");
        _meter.CreateObservableGauge("omnigateway.ledger.queue_depth", () => ledger.QueueDepth, "{record}",
            "Usage records waiting for the ledger's writer; growing means commits cannot keep up");
    }

    public void CallRecorded(UsageRecord record)
    {
        var tenant = new KeyValuePair<string, object?>("tenant", record.TenantId);
        var model = new KeyValuePair<string, object?>("model", record.Model);
        _responses.Add(1, tenant, model, new KeyValuePair<string, object?>("outcome", UsageRecord.OutcomeName(record.Outcome)));
        if (record.TimeToFirstByteMs is { } ttfb) _timeToFirstEvent.Record(ttfb / 1000, model);
        _duration.Record(record.DurationMs / 1000, model);
        if (record.Usage is not { } usage || !_tokens.Enabled) return;
        _tokens.Add(usage.InputTokens, tenant, model, new KeyValuePair<string, object?>("kind", "input"));
        _tokens.Add(usage.CachedTokens, tenant, model, new KeyValuePair<string, object?>("kind", "cached"));
        _tokens.Add(usage.OutputTokens, tenant, model, new KeyValuePair<string, object?>("kind", "output"));
        _tokens.Add(usage.ReasoningTokens, tenant, model, new KeyValuePair<string, object?>("kind", "reasoning"));
    }
}
