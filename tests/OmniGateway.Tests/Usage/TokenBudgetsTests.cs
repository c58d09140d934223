using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;
using OmniGateway.Tenants;
using OmniGateway.Usage;

namespace OmniGateway.Tests.Usage;

public sealed class TokenBudgetsTests
{
    private static readonly DateTimeOffset LastMinuteOfMarch = new(2026, 3, 31, 23, 59, 0, TimeSpan.Zero);
    private readonly FakeTimeProvider _time = new(LastMinuteOfMarch);

    private TokenBudgets Budgets(long reservation = 100) =>
        new(_time, Options.Create(new UsageOptions { BudgetReservationTokens = reservation }));

    private static TenantContext Tenant(long? daily = null, long? monthly = null) =>
        new("t1", "key_1", [], new TenantLimits { DailyTokens = daily, MonthlyTokens = monthly });

    private long Day => new DateTimeOffset(2026, 3, 31, 0, 0, 0, TimeSpan.Zero).ToUnixTimeMilliseconds();
    private long Month => new DateTimeOffset(2026, 3, 1, 0, 0, 0, TimeSpan.Zero).ToUnixTimeMilliseconds();

    [Fact]
    public void TenantWithoutBudgets_IsAdmittedWithoutReservation()
    {
        var budgets = Budgets();
        using var admission = budgets.Admit(Tenant());
        Assert.Same(BudgetAdmission.Unlimited, admission);
        Assert.Equal((0, 0), budgets.Snapshot("t1", BudgetPeriod.Day, _time.GetUtcNow()));
    }

    [Fact]
    public void SpentDailyBudget_Refuses_WithRetryAfterUntilUtcMidnight_AndAdmitsAfterIt()
    {
        var budgets = Budgets();
        budgets.Apply([new PeriodTotal("t1", BudgetPeriod.Day, Day, 1000)], []);

        using (var refused = budgets.Admit(Tenant(daily: 1000)))
        {
            Assert.Equal("token_budget_exceeded", refused.Rejection?.Code);
            Assert.Equal(429, refused.Rejection?.Status);
            Assert.Equal(60, refused.Rejection?.RetryAfterSeconds);
        }

        _time.Advance(TimeSpan.FromMinutes(1));
        using var admitted = budgets.Admit(Tenant(daily: 1000));
        Assert.Null(admitted.Rejection);
    }

    [Fact]
    public void SpentMonthlyBudget_RetryAfterRunsToTheFirstOfNextMonth()
    {
        var budgets = Budgets();
        _time.SetUtcNow(new DateTimeOffset(2026, 4, 10, 12, 0, 0, TimeSpan.Zero));
        budgets.Apply([new PeriodTotal("t1", BudgetPeriod.Month, new DateTimeOffset(2026, 4, 1, 0, 0, 0, TimeSpan.Zero).ToUnixTimeMilliseconds(), 5000)], []);

        using var refused = budgets.Admit(Tenant(monthly: 5000));
        Assert.Equal((int)(new DateTimeOffset(2026, 5, 1, 0, 0, 0, TimeSpan.Zero) - _time.GetUtcNow()).TotalSeconds, refused.Rejection?.RetryAfterSeconds);
    }

    [Fact]
    public void ConcurrentCalls_StopBeingAdmittedOnceTheirReservationsFillTheBudget_AndAnEndingCallFreesItsShare()
    {
        var budgets = Budgets(reservation: 100);
        var inFlight = Enumerable.Range(0, 10).Select(_ => budgets.Admit(Tenant(daily: 1000))).ToList();
        Assert.All(inFlight, a => Assert.Null(a.Rejection));

        using (var eleventh = budgets.Admit(Tenant(daily: 1000)))
        {
            Assert.Equal("token_budget_exceeded", eleventh.Rejection?.Code);
            Assert.Equal(1, eleventh.Rejection?.RetryAfterSeconds); // only reserved, not spent: worth retrying soon
        }

        inFlight[0].Dispose();
        inFlight[0].Dispose(); // releasing twice must not free two shares
        Assert.Equal((0, 900), budgets.Snapshot("t1", BudgetPeriod.Day, _time.GetUtcNow()));
        using var next = budgets.Admit(Tenant(daily: 1000));
        Assert.Null(next.Rejection);
        foreach (var admission in inFlight) admission.Dispose();
    }

    [Fact]
    public void Reservation_FollowsTheTenantsReportedUsage()
    {
        var budgets = Budgets(reservation: 100);
        var usage = new UpstreamUsage(300, 0, 200, 0, 500, "{}");
        var record = new UsageRecord("r1", "t1", "key_1", "m", null, "text", LastMinuteOfMarch, 1, 2, UsageOutcome.Completed, "resp_1", usage);
        budgets.Apply([new PeriodTotal("t1", BudgetPeriod.Day, Day, 500)], [record]);

        using var admission = budgets.Admit(Tenant(daily: 10_000));
        Assert.Equal((500, 500), budgets.Snapshot("t1", BudgetPeriod.Day, _time.GetUtcNow()));
    }

    [Fact]
    public void Reload_ReplacesCommittedTotals_AndForgetsPastPeriods()
    {
        var budgets = Budgets();
        budgets.Apply([new PeriodTotal("t1", BudgetPeriod.Day, Day, 700), new PeriodTotal("t1", BudgetPeriod.Month, Month, 900)], []);

        budgets.Reload([new PeriodTotal("t1", BudgetPeriod.Day, Day, 750)], _time.GetUtcNow());
        Assert.Equal((750, 0), budgets.Snapshot("t1", BudgetPeriod.Day, _time.GetUtcNow()));
        Assert.Equal((0, 0), budgets.Snapshot("t1", BudgetPeriod.Month, _time.GetUtcNow()));

        _time.Advance(TimeSpan.FromDays(1));
        budgets.Reload([], _time.GetUtcNow());
        Assert.Equal((0, 0), budgets.Snapshot("t1", BudgetPeriod.Day, LastMinuteOfMarch));
    }
}
