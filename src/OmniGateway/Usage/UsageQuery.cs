namespace OmniGateway.Usage;

public enum UsageGranularity { Total, Day, Hour }

/// <summary>A validated usage query: null filters are unbounded; <see cref="To"/> is exclusive.</summary>
public sealed record UsageQuery(string? TenantId, string? Model, DateTimeOffset? From, DateTimeOffset? To, UsageGranularity Granularity)
{
    /// <summary><c>group_by=tag:&lt;key&gt;</c>: rows are split by that tag's value (null for calls without it).</summary>
    public string? GroupByTag { get; init; }

    /// <summary><c>tag=&lt;key&gt;:&lt;value&gt;</c>, repeatable: only calls carrying every one of them.</summary>
    public IReadOnlyList<KeyValuePair<string, string>> TagFilters { get; init; } = [];
}

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
    /// <summary>Exact sum of the priced calls' costs; null when none of the rows' calls was priced.</summary>
    public decimal? Cost { get; init; }

    /// <summary>Rows are split by currency, so a sum never mixes two; null for unpriced calls.</summary>
    public string? Currency { get; init; }

    /// <summary>With <see cref="UsageQuery.GroupByTag"/>: the tag's value (null: the calls without the tag).</summary>
    public string? TagValue { get; init; }

    /// <summary>Calls whose usage the upstream never reported: in <see cref="Requests"/>, not in the token sums.</summary>
    public long UnreportedRequests { get; init; }

    /// <summary>What those calls reserved at admission, and were charged against budgets in place of usage.</summary>
    public long ReservedTokens { get; init; }
}
