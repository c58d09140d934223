namespace OmniGateway.Usage;

/// <summary>What the usage endpoints read: grouped rows of the ledger, never a record or a write.</summary>
public interface IUsageQueries
{
    /// <summary>Rows of <paramref name="query"/>; at most <paramref name="limit"/> when given (the caller reads one past its bound).</summary>
    Task<IReadOnlyList<UsageRow>> QueryAsync(UsageQuery query, CancellationToken cancellationToken, int? limit = null);
}
