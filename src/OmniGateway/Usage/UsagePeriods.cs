namespace OmniGateway.Usage;

public enum BudgetPeriod { Day, Month }

/// <summary>UTC calendar periods, as the budgets and the query buckets count them.</summary>
public static class UsagePeriods
{
    public static DateTimeOffset Start(BudgetPeriod period, DateTimeOffset instant)
    {
        var utc = instant.ToUniversalTime();
        return period == BudgetPeriod.Day
            ? new DateTimeOffset(utc.Year, utc.Month, utc.Day, 0, 0, 0, TimeSpan.Zero)
            : new DateTimeOffset(utc.Year, utc.Month, 1, 0, 0, 0, TimeSpan.Zero);
    }

    public static DateTimeOffset End(BudgetPeriod period, DateTimeOffset instant)
    {
        var start = Start(period, instant);
        return period == BudgetPeriod.Day ? start.AddDays(1) : start.AddMonths(1);
    }

    public static string Name(BudgetPeriod period) => period == BudgetPeriod.Day ? "day" : "month";
}

/// <summary>A tenant's committed tokens in one budget period, as the store last reported them.</summary>
public readonly record struct PeriodTotal(string TenantId, BudgetPeriod Period, long PeriodStartMs, long TotalTokens)
{
    /// <summary>Committed cost in 1e-9 currency units (what the cost budgets count; see <see cref="CostBudgets.ChargedNanos"/>).</summary>
    public long CostNanos { get; init; }
}
