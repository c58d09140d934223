using OmniGateway.Usage;

namespace OmniGateway.RateLimiting;

/// <summary>
/// Tokens per minute and budget reservations counted for every instance at once (<see cref="RedisRequestCounters"/>).
/// Without it (or while it is unreachable) <see cref="TokenAdmission"/> counts on this instance.
/// </summary>
public interface ISharedTokenCounts
{
    /// <summary>
    /// One round trip: lowers <paramref name="outputCap"/> to the tightest budget's room, refuses when not even
    /// <see cref="TokenBudgets.MinOutputTokens"/> fit or the minute is spent, else holds the reservation (an
    /// entry that expires unless this instance renews it) until <see cref="Settle"/> or its disposal.
    /// Null while the shared counts are unreachable: count on this instance (fail-open).
    /// </summary>
    ValueTask<SharedTokenCount?> TryReserveAsync(string tenantId, string requestId, long? tokensPerMinute, long inputTokens, long outputCap,
        IReadOnlyList<BudgetDemand> budgets);

    /// <summary>
    /// After the record of <paramref name="requestId"/> is stored: its reservation (if any) is released and what it
    /// was charged is added to the shared minute and to each budget counter in <paramref name="charges"/>. No waiting.
    /// </summary>
    void Settle(string tenantId, string requestId, long chargedTokens, IReadOnlyList<BudgetCharge> charges);
}

/// <summary>
/// One budget a call reserves against, in the budget's own unit: <see cref="InputAmount"/> plus
/// <see cref="AmountPerOutputToken"/> per output token (tokens: the input estimate and 1; a cost budget
/// would pass the input's price and the output price per token). <see cref="Committed"/> is what the store
/// says the period has spent; the shared counter's own spent total is used when it is higher.
/// </summary>
public readonly record struct BudgetDemand(string Counter, string RefusedLimit, BudgetPeriod Period, long Limit, long Committed, long InputAmount,
    long AmountPerOutputToken)
{
    /// <summary>The name of a tenant's spent/reserved counter for a unit (<c>tokens</c>) in the period holding <paramref name="now"/>.</summary>
    public static string CounterName(string unit, BudgetPeriod period, DateTimeOffset now) =>
        $"{unit}:{UsagePeriods.Name(period)}:{UsagePeriods.Start(period, now).ToUnixTimeMilliseconds()}";
}

/// <summary>What a stored record adds to a budget counter; the counter lives until <see cref="ExpiresAt"/> (past its period's end).</summary>
public readonly record struct BudgetCharge(string Counter, long Amount, DateTimeOffset ExpiresAt);

/// <summary>The shared answer: admitted (holding <see cref="Reservation"/>, output cut to <see cref="OutputTokens"/>) or refused by one limit.</summary>
public readonly record struct SharedTokenCount(SharedTokenRefusal Refused, int BudgetIndex, long Spent, long InFlight, long RetryAfterMs, long OutputTokens,
    IDisposable? Reservation);

public enum SharedTokenRefusal { None, Budget, TokensPerMinute }
