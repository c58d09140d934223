using System.Diagnostics.CodeAnalysis;
using OmniGateway.Errors;

namespace OmniGateway.Usage;

/// <summary>
/// A usage query costs a bounded amount: without <c>from</c> it covers the current UTC month, and one that
/// would return more than <see cref="MaxRows"/> rows is refused with a message saying how to narrow it
/// (the store reads one row past the bound, never the whole answer).
/// </summary>
public static class UsageQueryBounds
{
    public const int MaxRows = 10_000;

    /// <summary>The query with its <c>from</c> defaulted to the current UTC month, or the error when its <c>to</c> is before that.</summary>
    public static bool TryBound(UsageQuery query, DateTimeOffset now, [NotNullWhen(true)] out UsageQuery? bounded, [NotNullWhen(false)] out GatewayError? error)
    {
        (bounded, error) = (query, null);
        if (query.From is not null) return true;
        var utc = now.UtcDateTime;
        var monthStart = new DateTimeOffset(utc.Year, utc.Month, 1, 0, 0, 0, TimeSpan.Zero);
        if (query.To is { } to && to <= monthStart)
        {
            (bounded, error) = (null, GatewayErrors.BadRequest("invalid_range",
                $"'to' is before the current UTC month, which is where 'from' starts when it is left out ({monthStart:yyyy-MM-dd}). Set 'from' as well.", "from"));
            return false;
        }
        bounded = query with { From = monthStart };
        return true;
    }

    public static GatewayError TooManyRows() =>
        GatewayErrors.BadRequest("usage_query_too_large",
            $"This query would return more than {MaxRows} rows. Narrow it: a shorter 'from'–'to' range, a coarser 'granularity' (day or total instead of hour)" +
            ", or (on /admin/usage) a 'tenant' or 'model' filter.", "granularity");
}
