using OmniGateway.Errors;
using OmniGateway.Tenants;

namespace OmniGateway.Usage;

/// <summary>
/// Daily and monthly token budgets (contract 6), checked at admission without touching the store.
/// Committed totals come from the store (loaded at start-up, then as each batch commits). Every admitted
/// call reserves its input estimate plus its output cap until it ends, and the cap is lowered to what
/// the budget has left, so the upstream itself stops at the budget: whatever the calls in flight do, the
/// spend stays within the budget plus the calls' input-estimate errors.
/// </summary>
public sealed class TokenBudgets(TimeProvider time)
{
    /// <summary>A call that would have room for fewer output tokens than this is refused rather than cut to a useless stub.</summary>
    public const long MinOutputTokens = 16;

    private readonly PeriodCounters<long> _counters = new(static total => total.TotalTokens);

    /// <summary>
    /// Reserves <paramref name="inputEstimate"/> plus at most <paramref name="outputCap"/> output tokens, the
    /// output lowered to what the tighter budget has left. Dispose the admission once the call's record is stored.
    /// </summary>
    public BudgetAdmission Admit(TenantContext tenant, long inputEstimate, long outputCap)
    {
        var limits = tenant.Limits;
        if (limits.DailyTokens is null && limits.MonthlyTokens is null) return BudgetAdmission.Unlimited(inputEstimate + outputCap, outputCap);

        var now = time.GetUtcNow();
        var day = UsagePeriods.Start(BudgetPeriod.Day, now).ToUnixTimeMilliseconds();
        var month = UsagePeriods.Start(BudgetPeriod.Month, now).ToUnixTimeMilliseconds();
        var budget = _counters.For(tenant.TenantId);
        lock (budget)
        {
            var output = outputCap;
            var minimum = inputEstimate + Math.Min(MinOutputTokens, outputCap);
            if (Fit(budget, BudgetPeriod.Day, day, limits.DailyTokens, inputEstimate, minimum, ref output, now) is { } dayRefusal) return new BudgetAdmission(dayRefusal);
            if (Fit(budget, BudgetPeriod.Month, month, limits.MonthlyTokens, inputEstimate, minimum, ref output, now) is { } monthRefusal) return new BudgetAdmission(monthRefusal);

            var reservation = inputEstimate + output;
            var hold = budget.Reserve(limits.DailyTokens is null ? null : day, limits.MonthlyTokens is null ? null : month, reservation);
            return new BudgetAdmission(hold, output);
        }
    }

    /// <summary>
    /// The 429 when committed spend alone has reached a budget's limit: then no call fits, whatever its size or output
    /// cap, until the period ends. The route's admission asks this before the body is read, so a spent tenant's large
    /// body is neither read into memory nor started upstream. Committed totals only grow within a period, and lag the
    /// store at most, so this never refuses a call the full admission would take.
    /// </summary>
    public GatewayError? Spent(TenantContext tenant)
    {
        var limits = tenant.Limits;
        if (limits.DailyTokens is null && limits.MonthlyTokens is null) return null;
        var now = time.GetUtcNow();
        return SpentIn(tenant.TenantId, BudgetPeriod.Day, limits.DailyTokens, now) ?? SpentIn(tenant.TenantId, BudgetPeriod.Month, limits.MonthlyTokens, now);
    }

    private GatewayError? SpentIn(string tenantId, BudgetPeriod period, long? limit, DateTimeOffset now)
    {
        if (limit is not { } max) return null;
        var committed = _counters.Snapshot(tenantId, period, now).Committed;
        return committed >= max ? Refusal(period, max, committed, minimum: 1, now) : null;
    }

    /// <summary>What the store now holds after a commit (absolute totals, so other instances' spend is included).</summary>
    public void Apply(IReadOnlyList<PeriodTotal> totals) => _counters.Apply(totals);

    /// <summary>Replaces every committed total with the store's (start-up and periodic refresh), dropping past periods.</summary>
    public void Reload(IReadOnlyList<PeriodTotal> totals, DateTimeOffset now) => _counters.Reload(totals, now);

    /// <summary>Committed plus reserved tokens of a tenant in the period holding <paramref name="instant"/>.</summary>
    public (long Committed, long Reserved) Snapshot(string tenantId, BudgetPeriod period, DateTimeOffset instant) =>
        _counters.Snapshot(tenantId, period, instant);

    /// <summary>Lowers <paramref name="output"/> to the period's room, or refuses when not even the minimum fits.</summary>
    private static GatewayError? Fit(PeriodCounters<long>.TenantCounters budget, BudgetPeriod period, long start, long? limit, long input, long minimum, ref long output, DateTimeOffset now)
    {
        if (limit is not { } max) return null;
        var counter = budget.Counter(period, start);
        var room = max - counter.Committed - counter.Reserved;
        if (room >= minimum)
        {
            output = Math.Min(output, room - input);
            return null;
        }
        return Refusal(period, max, counter.Committed, minimum, now);
    }

    /// <summary>The 429 of a budget whose room is below <paramref name="minimum"/> (also for the counts shared through Redis).</summary>
    public static GatewayError Refusal(BudgetPeriod period, long limit, long committed, long minimum, DateTimeOffset now)
    {
        var reset = UsagePeriods.End(period, now);
        // Spent (or too little left for this call even with nothing in flight): nothing changes before the reset.
        // Only reserved by calls in flight: they may end using less.
        return limit - committed < minimum
            ? GatewayErrors.TokenBudgetExceeded(UsagePeriods.Name(period), limit, reset, (int)Math.Ceiling((reset - now).TotalSeconds))
            : GatewayErrors.TokenBudgetReserved(UsagePeriods.Name(period), limit, retryAfterSeconds: 1);
    }
}

/// <summary>Admitted (holding a reservation until disposed) or refused with the 429 to send.</summary>
public sealed class BudgetAdmission : IDisposable
{
    private readonly PeriodCounters<long>.Hold? _hold;
    private int _released;

    internal BudgetAdmission(GatewayError rejection) => Rejection = rejection;

    private BudgetAdmission(long reservedTokens, long outputTokens) => (ReservedTokens, OutputTokens) = (reservedTokens, outputTokens);

    internal BudgetAdmission(PeriodCounters<long>.Hold hold, long outputTokens) : this(hold.Amount, outputTokens) => _hold = hold;

    /// <summary>A tenant without budgets: nothing is held, the call's own caps stand.</summary>
    internal static BudgetAdmission Unlimited(long reservedTokens, long outputTokens) => new(reservedTokens, outputTokens);

    public GatewayError? Rejection { get; }

    /// <summary>Input estimate plus <see cref="OutputTokens"/>: the most this call can cost.</summary>
    public long ReservedTokens { get; }

    /// <summary>The output cap to forward as <c>max_output_tokens</c>, lowered to the budget's room.</summary>
    public long OutputTokens { get; }

    public void Dispose()
    {
        if (_hold is { } hold && Interlocked.Exchange(ref _released, 1) == 0) hold.Release();
    }
}
