using Microsoft.Extensions.Time.Testing;
using OmniGateway.Tenants;
using OmniGateway.Usage;

namespace OmniGateway.Tests.Usage;

public sealed class TokenBudgetsTests
{
    private static readonly DateTimeOffset LastMinuteOfMarch = new(2026, 3, 31, 23, 59, 0, TimeSpan.Zero);
    private readonly FakeTimeProvider _time = new(LastMinuteOfMarch);

    private TokenBudgets Budgets() => new(_time);

    private static TenantContext Tenant(long? daily = null, long? monthly = null) =>
        new("t1", "key_1", [], new TenantLimits { DailyTokens = daily, MonthlyTokens = monthly });

    private static long Day => new DateTimeOffset(2026, 3, 31, 0, 0, 0, TimeSpan.Zero).ToUnixTimeMilliseconds();
    private static long Month => new DateTimeOffset(2026, 3, 1, 0, 0, 0, TimeSpan.Zero).ToUnixTimeMilliseconds();

    [Fact]
    public void TenantWithoutBudgets_IsAdmittedWithoutReservation()
    {
        var budgets = Budgets();
        using var admission = budgets.Admit(Tenant(), 50, 50);
        Assert.Null(admission.Rejection);
        Assert.Equal(50, admission.OutputTokens);
        Assert.Equal((0, 0), budgets.Snapshot("t1", BudgetPeriod.Day, _time.GetUtcNow()));
    }

    [Fact]
    public void SpentDailyBudget_Refuses_WithRetryAfterUntilUtcMidnight_AndAdmitsAfterIt()
    {
        var budgets = Budgets();
        budgets.Apply([new PeriodTotal("t1", BudgetPeriod.Day, Day, 1000)]);

        using (var refused = budgets.Admit(Tenant(daily: 1000), 50, 50))
        {
            Assert.Equal("token_budget_exceeded", refused.Rejection?.Code);
            Assert.Equal(429, refused.Rejection?.Status);
            Assert.Equal(60, refused.Rejection?.RetryAfterSeconds);
        }

        _time.Advance(TimeSpan.FromMinutes(1));
        using var admitted = budgets.Admit(Tenant(daily: 1000), 50, 50);
        Assert.Null(admitted.Rejection);
    }

    [Fact]
    public void SpentMonthlyBudget_RetryAfterRunsToTheFirstOfNextMonth()
    {
        var budgets = Budgets();
        _time.SetUtcNow(new DateTimeOffset(2026, 4, 10, 12, 0, 0, TimeSpan.Zero));
        budgets.Apply([new PeriodTotal("t1", BudgetPeriod.Month, new DateTimeOffset(2026, 4, 1, 0, 0, 0, TimeSpan.Zero).ToUnixTimeMilliseconds(), 5000)]);

        using var refused = budgets.Admit(Tenant(monthly: 5000), 50, 50);
        Assert.Equal((int)(new DateTimeOffset(2026, 5, 1, 0, 0, 0, TimeSpan.Zero) - _time.GetUtcNow()).TotalSeconds, refused.Rejection?.RetryAfterSeconds);
    }

    [Fact]
    public void ConcurrentCalls_StopBeingAdmittedOnceTheirReservationsFillTheBudget_AndAnEndingCallFreesItsShare()
    {
        var budgets = Budgets();
        var inFlight = Enumerable.Range(0, 10).Select(_ => budgets.Admit(Tenant(daily: 1000), 50, 50)).ToList();
        Assert.All(inFlight, a => Assert.Null(a.Rejection));

        using (var eleventh = budgets.Admit(Tenant(daily: 1000), 50, 50))
        {
            Assert.Equal("token_budget_exceeded", eleventh.Rejection?.Code);
            Assert.Equal(1, eleventh.Rejection?.RetryAfterSeconds); // only reserved, not spent: worth retrying soon
        }

        inFlight[0].Dispose();
        inFlight[0].Dispose(); // releasing twice must not free two shares
        Assert.Equal((0, 900), budgets.Snapshot("t1", BudgetPeriod.Day, _time.GetUtcNow()));
        using var next = budgets.Admit(Tenant(daily: 1000), 50, 50);
        Assert.Null(next.Rejection);
        foreach (var admission in inFlight) admission.Dispose();
    }

    [Fact]
    public void OutputCap_IsLoweredToTheRoomLeft_AndACallWithoutRoomForAMinimumIsRefused()
    {
        var budgets = Budgets();
        budgets.Apply([new PeriodTotal("t1", BudgetPeriod.Day, Day, 600), new PeriodTotal("t1", BudgetPeriod.Month, Month, 9_700)]);
        var tenant = Tenant(daily: 1000, monthly: 10_000);

        using var first = budgets.Admit(tenant, inputEstimate: 40, outputCap: 16_384);
        Assert.Null(first.Rejection);
        Assert.Equal(260, first.OutputTokens); // the month's 300 left, less the input estimate: tighter than the day's 400
        Assert.Equal(300, first.ReservedTokens);
        Assert.Equal((600, 300), budgets.Snapshot("t1", BudgetPeriod.Day, _time.GetUtcNow()));

        using var second = budgets.Admit(tenant, inputEstimate: 40, outputCap: 100);
        Assert.Equal("token_budget_exceeded", second.Rejection?.Code);
        Assert.Equal(1, second.Rejection?.RetryAfterSeconds); // only reserved: the first call may use less

        first.Dispose();
        budgets.Apply([new PeriodTotal("t1", BudgetPeriod.Month, Month, 9_990)]);
        using var third = budgets.Admit(tenant, inputEstimate: 40, outputCap: 100);
        Assert.Equal(60, third.Rejection?.RetryAfterSeconds); // 10 tokens left cannot hold this call before the reset
    }

    [Fact]
    public void Reload_ReplacesCommittedTotals_AndForgetsPastPeriods()
    {
        var budgets = Budgets();
        budgets.Apply([new PeriodTotal("t1", BudgetPeriod.Day, Day, 700), new PeriodTotal("t1", BudgetPeriod.Month, Month, 900)]);

        budgets.Reload([new PeriodTotal("t1", BudgetPeriod.Day, Day, 750)], _time.GetUtcNow());
        Assert.Equal((750, 0), budgets.Snapshot("t1", BudgetPeriod.Day, _time.GetUtcNow()));
        Assert.Equal((0, 0), budgets.Snapshot("t1", BudgetPeriod.Month, _time.GetUtcNow()));

        _time.Advance(TimeSpan.FromDays(1));
        budgets.Reload([], _time.GetUtcNow());
        Assert.Equal((0, 0), budgets.Snapshot("t1", BudgetPeriod.Day, LastMinuteOfMarch));
    }
}
