using System.Collections.Concurrent;
using System.Numerics;

namespace OmniGateway.Usage;

/// <summary>
/// What a budget counts per tenant and UTC period (day, month): the committed total the store last reported and
/// what the calls in flight have reserved. The token budgets count tokens (<c>long</c>), the cost budgets money
/// (<c>decimal</c>); <paramref name="committedOf"/> reads a store total in that unit. Each tenant's counters are
/// guarded by one lock, the <see cref="TenantCounters"/> object itself: admission checks its room and reserves
/// under it, so two calls cannot both take the same room; commits, reloads, snapshots and releases take it too.
/// </summary>
internal sealed class PeriodCounters<T>(Func<PeriodTotal, T> committedOf) where T : struct, INumber<T>
{
    private readonly ConcurrentDictionary<string, TenantCounters> _tenants = new(StringComparer.Ordinal);

    /// <summary>The tenant's counters; lock them while checking room and reserving.</summary>
    public TenantCounters For(string tenantId) => _tenants.GetOrAdd(tenantId, static _ => new TenantCounters());

    /// <summary>What the store now holds after a commit (absolute totals, so other instances' spend is included).</summary>
    public void Apply(IReadOnlyList<PeriodTotal> totals)
    {
        foreach (var total in totals)
        {
            var counters = For(total.TenantId);
            lock (counters) counters.Counter(total.Period, total.PeriodStartMs).Committed = committedOf(total);
        }
    }

    /// <summary>Replaces every committed total with the store's (start-up and periodic refresh), dropping past periods.</summary>
    public void Reload(IReadOnlyList<PeriodTotal> totals, DateTimeOffset now)
    {
        var day = UsagePeriods.Start(BudgetPeriod.Day, now).ToUnixTimeMilliseconds();
        var month = UsagePeriods.Start(BudgetPeriod.Month, now).ToUnixTimeMilliseconds();
        var byKey = totals.ToDictionary(t => (t.TenantId, t.Period, t.PeriodStartMs), committedOf);
        foreach (var total in totals) For(total.TenantId);
        foreach (var (tenantId, counters) in _tenants)
        {
            lock (counters)
            {
                foreach (var ((period, start), counter) in counters.Counters.ToArray())
                {
                    if (start == (period == BudgetPeriod.Day ? day : month)) counter.Committed = byKey.GetValueOrDefault((tenantId, period, start));
                    else if (counter.Reserved == T.Zero) counters.Counters.Remove((period, start));
                }
                foreach (var period in (ReadOnlySpan<BudgetPeriod>)[BudgetPeriod.Day, BudgetPeriod.Month])
                {
                    var start = period == BudgetPeriod.Day ? day : month;
                    if (byKey.TryGetValue((tenantId, period, start), out var committed)) counters.Counter(period, start).Committed = committed;
                }
            }
        }
    }

    /// <summary>Committed and reserved amounts of a tenant in the period holding <paramref name="instant"/>.</summary>
    public (T Committed, T Reserved) Snapshot(string tenantId, BudgetPeriod period, DateTimeOffset instant)
    {
        var counters = For(tenantId);
        lock (counters)
        {
            return counters.Counters.TryGetValue((period, UsagePeriods.Start(period, instant).ToUnixTimeMilliseconds()), out var c)
                ? (c.Committed, c.Reserved)
                : (T.Zero, T.Zero);
        }
    }

    internal sealed class TenantCounters
    {
        public Dictionary<(BudgetPeriod, long), Counter> Counters { get; } = [];

        public Counter Counter(BudgetPeriod period, long start)
        {
            if (!Counters.TryGetValue((period, start), out var counter)) Counters[(period, start)] = counter = new Counter();
            return counter;
        }

        /// <summary>Holds <paramref name="amount"/> in the periods given (null: that period has no budget) until the hold is released.</summary>
        public Hold Reserve(long? day, long? month, T amount)
        {
            lock (this)
            {
                if (day is { } d) Counter(BudgetPeriod.Day, d).Reserved += amount;
                if (month is { } m) Counter(BudgetPeriod.Month, m).Reserved += amount;
            }
            return new Hold(this, day, month, amount);
        }
    }

    internal sealed class Counter
    {
        public T Committed { get; set; }
        public T Reserved { get; set; }
    }

    /// <summary>A reservation in flight. Release it exactly once (the admission holding it sees to that).</summary>
    internal readonly record struct Hold(TenantCounters Counters, long? Day, long? Month, T Amount)
    {
        public void Release()
        {
            lock (Counters)
            {
                if (Day is { } d) Counters.Counter(BudgetPeriod.Day, d).Reserved -= Amount;
                if (Month is { } m) Counters.Counter(BudgetPeriod.Month, m).Reserved -= Amount;
            }
        }
    }
}
