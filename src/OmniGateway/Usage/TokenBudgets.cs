using System.Collections.Concurrent;
using Microsoft.Extensions.Options;
using OmniGateway.Errors;
using OmniGateway.Tenants;

namespace OmniGateway.Usage;

/// <summary>
/// Daily and monthly token budgets (contract 6), checked at admission without touching the store.
/// Committed totals come from the store (loaded at start-up, then as each batch commits); every
/// admitted call reserves an estimate until it ends, so concurrent calls cannot all slip under the
/// limit at once: the overshoot stays within about one call's worth.
/// </summary>
public sealed class TokenBudgets(TimeProvider time, IOptions<UsageOptions> options)
{
    private const double EstimateWeight = 0.2;
    private readonly ConcurrentDictionary<string, TenantBudget> _tenants = new(StringComparer.Ordinal);

    /// <summary>Step 2 of <c>/v1/responses</c>. Dispose the admission when the call ends to release its reservation.</summary>
    public BudgetAdmission Admit(TenantContext tenant)
    {
        var limits = tenant.Limits;
        if (limits.DailyTokens is null && limits.MonthlyTokens is null) return BudgetAdmission.Unlimited;

        var now = time.GetUtcNow();
        var day = UsagePeriods.Start(BudgetPeriod.Day, now).ToUnixTimeMilliseconds();
        var month = UsagePeriods.Start(BudgetPeriod.Month, now).ToUnixTimeMilliseconds();
        var budget = Get(tenant.TenantId);
        lock (budget)
        {
            if (Refusal(budget, BudgetPeriod.Day, day, limits.DailyTokens, now) is { } dayRefusal) return new BudgetAdmission(dayRefusal);
            if (Refusal(budget, BudgetPeriod.Month, month, limits.MonthlyTokens, now) is { } monthRefusal) return new BudgetAdmission(monthRefusal);

            var estimate = (long)Math.Ceiling(budget.Estimate ?? options.Value.BudgetReservationTokens);
            if (limits.DailyTokens is not null) budget.Counter(BudgetPeriod.Day, day).Reserved += estimate;
            if (limits.MonthlyTokens is not null) budget.Counter(BudgetPeriod.Month, month).Reserved += estimate;
            return new BudgetAdmission(this, budget, limits.DailyTokens is null ? null : day, limits.MonthlyTokens is null ? null : month, estimate);
        }
    }

    /// <summary>What the store now holds after a commit (absolute totals, so other instances' spend is included).</summary>
    public void Apply(IReadOnlyList<PeriodTotal> totals, IReadOnlyList<UsageRecord> records)
    {
        foreach (var total in totals)
        {
            var budget = Get(total.TenantId);
            lock (budget) budget.Counter(total.Period, total.PeriodStartMs).Committed = total.TotalTokens;
        }
        foreach (var record in records)
        {
            if (record.Usage is not { } usage) continue; // no reported usage says nothing about the next call's size
            var budget = Get(record.TenantId);
            lock (budget) budget.Estimate = budget.Estimate is { } e ? e + EstimateWeight * (usage.TotalTokens - e) : usage.TotalTokens;
        }
    }

    /// <summary>Replaces every committed total with the store's (start-up and periodic refresh), dropping past periods.</summary>
    public void Reload(IReadOnlyList<PeriodTotal> totals, DateTimeOffset now)
    {
        var day = UsagePeriods.Start(BudgetPeriod.Day, now).ToUnixTimeMilliseconds();
        var month = UsagePeriods.Start(BudgetPeriod.Month, now).ToUnixTimeMilliseconds();
        var byKey = totals.ToDictionary(t => (t.TenantId, t.Period, t.PeriodStartMs), t => t.TotalTokens);
        foreach (var total in totals) Get(total.TenantId);
        foreach (var (tenantId, budget) in _tenants)
        {
            lock (budget)
            {
                foreach (var ((period, start), counter) in budget.Counters.ToArray())
                {
                    var current = start == (period == BudgetPeriod.Day ? day : month);
                    if (current) counter.Committed = byKey.GetValueOrDefault((tenantId, period, start));
                    else if (counter.Reserved == 0) budget.Counters.Remove((period, start));
                }
                foreach (var period in (ReadOnlySpan<BudgetPeriod>)[BudgetPeriod.Day, BudgetPeriod.Month])
                {
                    var start = period == BudgetPeriod.Day ? day : month;
                    if (byKey.TryGetValue((tenantId, period, start), out var committed)) budget.Counter(period, start).Committed = committed;
                }
            }
        }
    }

    /// <summary>Committed plus reserved tokens of a tenant in the period holding <paramref name="instant"/>.</summary>
    public (long Committed, long Reserved) Snapshot(string tenantId, BudgetPeriod period, DateTimeOffset instant)
    {
        var budget = Get(tenantId);
        lock (budget)
        {
            return budget.Counters.TryGetValue((period, UsagePeriods.Start(period, instant).ToUnixTimeMilliseconds()), out var c)
                ? (c.Committed, c.Reserved)
                : (0, 0);
        }
    }

    internal void Release(TenantBudget budget, long? day, long? month, long estimate)
    {
        lock (budget)
        {
            if (day is { } d) budget.Counter(BudgetPeriod.Day, d).Reserved -= estimate;
            if (month is { } m) budget.Counter(BudgetPeriod.Month, m).Reserved -= estimate;
        }
    }

    private TenantBudget Get(string tenantId) => _tenants.GetOrAdd(tenantId, static _ => new TenantBudget());

    private static GatewayError? Refusal(TenantBudget budget, BudgetPeriod period, long start, long? limit, DateTimeOffset now)
    {
        if (limit is not { } max) return null;
        var counter = budget.Counter(period, start);
        if (counter.Committed + counter.Reserved < max) return null;
        var reset = UsagePeriods.End(period, now);
        // Spent: nothing changes before the reset. Only reserved by calls in flight: they may end using less.
        return counter.Committed >= max
            ? GatewayErrors.TokenBudgetExceeded(UsagePeriods.Name(period), max, reset, (int)Math.Ceiling((reset - now).TotalSeconds))
            : GatewayErrors.TokenBudgetReserved(UsagePeriods.Name(period), max, retryAfterSeconds: 1);
    }

    internal sealed class TenantBudget
    {
        public Dictionary<(BudgetPeriod, long), Counter> Counters { get; } = [];

        /// <summary>Moving average of this tenant's reported totals: what the next call likely costs.</summary>
        public double? Estimate { get; set; }

        public Counter Counter(BudgetPeriod period, long start)
        {
            if (!Counters.TryGetValue((period, start), out var counter)) Counters[(period, start)] = counter = new Counter();
            return counter;
        }
    }

    internal sealed class Counter
    {
        public long Committed { get; set; }
        public long Reserved { get; set; }
    }
}

/// <summary>Admitted (holding a reservation until disposed) or refused with the 429 to send.</summary>
public sealed class BudgetAdmission : IDisposable
{
    public static readonly BudgetAdmission Unlimited = new(rejection: null);

    private readonly TokenBudgets? _owner;
    private readonly TokenBudgets.TenantBudget? _budget;
    private readonly long? _day;
    private readonly long? _month;
    private readonly long _estimate;
    private int _released;

    internal BudgetAdmission(GatewayError? rejection) => Rejection = rejection;

    internal BudgetAdmission(TokenBudgets owner, TokenBudgets.TenantBudget budget, long? day, long? month, long estimate)
    {
        (_owner, _budget, _day, _month, _estimate) = (owner, budget, day, month, estimate);
    }

    public GatewayError? Rejection { get; }

    public void Dispose()
    {
        if (_owner is not null && Interlocked.Exchange(ref _released, 1) == 0) _owner.Release(_budget!, _day, _month, _estimate); // _budget is set with _owner
    }
}
