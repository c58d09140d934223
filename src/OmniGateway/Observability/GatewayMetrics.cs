using System.Diagnostics.Metrics;
using OmniGateway.Usage;

namespace OmniGateway.Observability;

/// <summary>The gateway's own meters, exported at <c>/metrics</c>: calls by outcome, tokens, latency, open streams.</summary>
public sealed class GatewayMetrics
{
    public const string MeterName = "OmniGateway";

    private readonly Counter<long> _responses;
    private readonly Counter<long> _tokens;
    private readonly Histogram<double> _timeToFirstByte;
    private readonly Histogram<double> _duration;
    private readonly UpDownCounter<long> _activeStreams;
    private readonly Meter _meter;

    public GatewayMetrics(IMeterFactory meterFactory)
    {
        var meter = _meter = meterFactory.Create(MeterName);
        _responses = meter.CreateCounter<long>("omnigateway.responses", description: "Accepted /v1/responses calls, by outcome");
        _tokens = meter.CreateCounter<long>("omnigateway.tokens", description: "Tokens the upstream reported, by kind");
        _timeToFirstByte = meter.CreateHistogram<double>("omnigateway.time_to_first_event", "ms", "Request start to the upstream's first event relayed");
        _duration = meter.CreateHistogram<double>("omnigateway.response.duration", "ms", "Request start to the usage record");
        _activeStreams = meter.CreateUpDownCounter<long>("omnigateway.streams.active", description: "Calls being forwarded, from admission to their end");
    }

    public void CallStarted() => _activeStreams.Add(1);

    /// <summary>In a finally beside <see cref="CallStarted"/>: no exception can leave the gauge unbalanced.</summary>
    public void CallEnded() => _activeStreams.Add(-1);

    /// <summary>How well stream ends share commits (records ÷ commits) and what durability costs (commit seconds).</summary>
    public void ObserveLedger(GroupCommitLedger ledger)
    {
        _meter.CreateObservableCounter("omnigateway.ledger.commits", () => ledger.Commits, description: "Usage ledger transactions committed");
        _meter.CreateObservableCounter("omnigateway.ledger.records", () => ledger.RecordsCommitted, description: "Usage records committed");
        _meter.CreateObservableCounter("omnigateway.ledger.commit_time", () => ledger.CommitTime.TotalSeconds, "s", "Time spent inside ledger commits");
    }

    public void CallRecorded(UsageRecord record)
    {
        var tenant = new KeyValuePair<string, object?>("tenant", record.TenantId);
        var model = new KeyValuePair<string, object?>("model", record.Model);
        _responses.Add(1, tenant, model, new KeyValuePair<string, object?>("outcome", UsageRecord.OutcomeName(record.Outcome)));
        if (record.TimeToFirstByteMs is { } ttfb) _timeToFirstByte.Record(ttfb, model);
        _duration.Record(record.DurationMs, model);
        if (record.Usage is not { } usage || !_tokens.Enabled) return;
        _tokens.Add(usage.InputTokens, tenant, model, new KeyValuePair<string, object?>("kind", "input"));
        _tokens.Add(usage.CachedTokens, tenant, model, new KeyValuePair<string, object?>("kind", "cached"));
        _tokens.Add(usage.OutputTokens, tenant, model, new KeyValuePair<string, object?>("kind", "output"));
        _tokens.Add(usage.ReasoningTokens, tenant, model, new KeyValuePair<string, object?>("kind", "reasoning"));
    }
}
