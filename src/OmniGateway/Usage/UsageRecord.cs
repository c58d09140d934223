namespace OmniGateway.Usage;

/// <summary>How a proxied call ended (contract 5).</summary>
public enum UsageOutcome { Completed, Incomplete, Failed, UpstreamError, ClientAborted, Interrupted }

/// <summary>Token counts exactly as the upstream reported them, plus its usage object verbatim.</summary>
public sealed record UpstreamUsage(
    long InputTokens,
    long CachedTokens,
    long OutputTokens,
    long ReasoningTokens,
    long TotalTokens,
    string RawJson);

/// <summary>One record per accepted <c>/v1/responses</c> call. Holds no key and no content.</summary>
public sealed record UsageRecord(
    string RequestId,
    string TenantId,
    string KeyId,
    string Model,
    string? Voice,
    string Modalities,
    DateTimeOffset StartedAt,
    double? TimeToFirstByteMs,
    double DurationMs,
    UsageOutcome Outcome,
    string? UpstreamResponseId,
    UpstreamUsage? Usage)
{
    /// <summary>Tries the upstream call took (retries before the first byte); 0 when it never reached the upstream.</summary>
    public int UpstreamAttempts { get; init; }

    /// <summary>
    /// Unique per record, unlike the request id (a caller may send the same <c>x-request-id</c> twice):
    /// the feed's idempotency key, so a receiver that deduplicates never drops a second, billable call.
    /// </summary>
    public string RecordKey { get; init; } = Observability.PrefixedIds.TimeOrdered("rec_", DateTimeOffset.UtcNow); // the ledger's index order, not a recorded time

    /// <summary>Priced at record time with the version in force when the call started; null when the model has no price.</summary>
    public Pricing.UsageCost? Cost { get; init; }

    /// <summary>The caller's attribution tags (metadata and <c>x-omnigateway-tags</c>); empty when untagged.</summary>
    public IReadOnlyDictionary<string, string> Tags { get; init; } = EmptyTags;

    /// <summary>Admission's worst-case cost against the cost budgets (null without one): charged to them when usage is never reported.</summary>
    public decimal? ReservedCost { get; init; }

    public static readonly IReadOnlyDictionary<string, string> EmptyTags = new Dictionary<string, string>(StringComparer.Ordinal);

    /// <summary>Admission's reservation (input estimate plus output cap); null when the call held none.</summary>
    public long? ReservedTokens { get; init; }

    /// <summary>False when the upstream never reported usage: the token columns stay null, the truth.</summary>
    public bool UsageReported => Usage is not null;

    /// <summary>
    /// What budgets and tokens per minute are charged: the reported total, or the reservation when usage
    /// is unknown — never zero for a call that may have been billed.
    /// </summary>
    public long ChargedTokens => Usage?.TotalTokens ?? ReservedTokens ?? 0;

    public static string OutcomeName(UsageOutcome outcome) => outcome switch
    {
        UsageOutcome.Completed => "completed",
        UsageOutcome.Incomplete => "incomplete",
        UsageOutcome.Failed => "failed",
        UsageOutcome.UpstreamError => "upstream_error",
        UsageOutcome.ClientAborted => "client_aborted",
        _ => "interrupted",
    };

    public static UsageOutcome ParseOutcome(string name) => name switch
    {
        "completed" => UsageOutcome.Completed,
        "incomplete" => UsageOutcome.Incomplete,
        "failed" => UsageOutcome.Failed,
        "upstream_error" => UsageOutcome.UpstreamError,
        "client_aborted" => UsageOutcome.ClientAborted,
        _ => UsageOutcome.Interrupted,
    };
}
