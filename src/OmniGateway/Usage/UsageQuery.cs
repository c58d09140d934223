namespace OmniGateway.Usage;

public enum UsageGranularity { Total, Day, Hour }

/// <summary>A validated usage query: null filters are unbounded; <see cref="To"/> is exclusive.</summary>
public sealed record UsageQuery(string? TenantId, string? Model, DateTimeOffset? From, DateTimeOffset? To, UsageGranularity Granularity);

/// <summary>One row of the contract's usage list: exact integer sums for a tenant, model and period.</summary>
public sealed record UsageRow(
    string Tenant,
    string Model,
    DateTimeOffset PeriodStart,
    long Requests,
    long InputTokens,
    long CachedTokens,
    long OutputTokens,
    long ReasoningTokens,
    long TotalTokens)
{
    /// <summary>Calls whose usage the upstream never reported: in <see cref="Requests"/>, not in the token sums.</summary>
    public long UnreportedRequests { get; init; }

    /// <summary>What those calls reserved at admission, and were charged against budgets in place of usage.</summary>
    public long ReservedTokens { get; init; }
}
