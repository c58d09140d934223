using System.Globalization;
using OmniGateway.Errors;
using OmniGateway.Tenants;
using OmniGateway.Usage;
using OmniGateway.Validation;

namespace OmniGateway.RateLimiting;

/// <summary>
/// The token half of admission, once the body is validated (the estimate needs it) and before any upstream
/// call: the budgets reserve the call's input estimate plus its output cap, lowered to fit, and tokens per
/// minute counts that reservation in flight. The lowered cap is what the upstream is sent. With shared
/// counts (<see cref="ISharedTokenCounts"/>, Redis) both are decided for every instance in one round trip;
/// while those are unreachable, on this instance's counts.
/// </summary>
public sealed class TokenAdmission(TokenBudgets budgets, TokensPerMinute tokensPerMinute, IRequestCounters counters, TimeProvider time)
{
    public const string TokenBudget = "token_budget";
    public const string TokensPerMinuteLimit = "tokens_per_minute";
    private const string TokensUnit = "tokens";

    private readonly ISharedTokenCounts? _shared = counters as ISharedTokenCounts;

    /// <summary>A budget already spent by committed calls (<see cref="TokenBudgets.Spent"/>): refused before the body is read.</summary>
    public GatewayError? BudgetSpent(TenantContext tenant) => budgets.Spent(tenant);

    public async ValueTask<AdmittedTokens> AdmitAsync(TenantContext tenant, ValidatedRequest request, string requestId)
    {
        var limits = tenant.Limits;
        if (_shared is not null && (limits.TokensPerMinute ?? limits.DailyTokens ?? limits.MonthlyTokens) is not null
            && await AdmitSharedAsync(_shared, tenant, request, requestId) is { } shared) return shared;

        var budget = budgets.Admit(tenant, request.InputTokenEstimate, request.MaxOutputTokens);
        if (budget.Rejection is { } overBudget) return new AdmittedTokens(request, overBudget, null, null) { RefusedLimit = TokenBudget };
        var (perMinute, overRate) = tokensPerMinute.Admit(tenant, budget.ReservedTokens);
        if (overRate is not null)
        {
            budget.Dispose();
            return new AdmittedTokens(request, overRate, null, null) { RefusedLimit = TokensPerMinuteLimit };
        }
        if (budget.OutputTokens < request.MaxOutputTokens) request.ForwardMaxOutputTokens(budget.OutputTokens);
        request.ReservedTokens = budget.ReservedTokens;
        return new AdmittedTokens(request, null, budget, perMinute);
    }

    /// <summary>After each record is stored: this instance's minute, and the shared counts (its reservation settled).</summary>
    public void Charge(UsageRecord record)
    {
        var charged = record.ChargedTokens;
        tokensPerMinute.Add(record.TenantId, charged);
        if (_shared is null) return;
        var now = time.GetUtcNow();
        _shared.Settle(record.TenantId, record.RequestId, charged,
        [
            new BudgetCharge(BudgetDemand.CounterName(TokensUnit, BudgetPeriod.Day, now), charged, UsagePeriods.End(BudgetPeriod.Day, now).AddHours(1)),
            new BudgetCharge(BudgetDemand.CounterName(TokensUnit, BudgetPeriod.Month, now), charged, UsagePeriods.End(BudgetPeriod.Month, now).AddHours(1)),
        ]);
    }

    /// <summary>Null when the shared counts are unreachable (then this instance's counts decide).</summary>
    private async ValueTask<AdmittedTokens?> AdmitSharedAsync(ISharedTokenCounts shared, TenantContext tenant, ValidatedRequest request, string requestId)
    {
        var limits = tenant.Limits;
        var now = time.GetUtcNow();
        var input = request.InputTokenEstimate;
        var demands = new List<BudgetDemand>(2);
        if (limits.DailyTokens is { } daily) demands.Add(Demand(BudgetPeriod.Day, daily));
        if (limits.MonthlyTokens is { } monthly) demands.Add(Demand(BudgetPeriod.Month, monthly));

        if (await shared.TryReserveAsync(tenant.TenantId, requestId, limits.TokensPerMinute, input, request.MaxOutputTokens, demands) is not { } count) return null;
        switch (count.Refused)
        {
            case SharedTokenRefusal.Budget:
                var demand = demands[count.BudgetIndex];
                var minimum = demand.InputAmount + Math.Min(TokenBudgets.MinOutputTokens, request.MaxOutputTokens) * demand.AmountPerOutputToken;
                return new AdmittedTokens(request, TokenBudgets.Refusal(demand.Period, demand.Limit, count.Spent, minimum, now), null, null) { RefusedLimit = demand.RefusedLimit };
            case SharedTokenRefusal.TokensPerMinute:
                return new AdmittedTokens(request, GatewayErrors.RateLimited("tokens_per_minute_exceeded",
                    string.Create(CultureInfo.InvariantCulture, $"Your tenant used {count.Spent} of its {limits.TokensPerMinute} tokens per minute ({count.InFlight} more are reserved by calls in flight). Retry after the time given in Retry-After."),
                    (int)Math.Max(1, Math.Ceiling(count.RetryAfterMs / 1000.0))), null, null) { RefusedLimit = TokensPerMinuteLimit };
        }
        if (count.OutputTokens < request.MaxOutputTokens) request.ForwardMaxOutputTokens(count.OutputTokens);
        request.ReservedTokens = input + count.OutputTokens;
        return new AdmittedTokens(request, null, count.Reservation, null);

        BudgetDemand Demand(BudgetPeriod period, long limit) =>
            new(BudgetDemand.CounterName(TokensUnit, period, now), TokenBudget, period, limit, budgets.Snapshot(tenant.TenantId, period, now).Committed, input, 1);
    }
}

/// <summary>An admitted call's reservations (released on dispose, after its record is stored), or the refusal to send.</summary>
public sealed class AdmittedTokens(ValidatedRequest request, GatewayError? rejection, IDisposable? budget, IDisposable? perMinute) : IDisposable
{
    /// <summary>The request to forward, carrying its reservation to the usage record.</summary>
    public ValidatedRequest Request { get; } = request;

    public GatewayError? Rejection { get; } = rejection;

    /// <summary>Which limit refused: <c>token_budget</c> or <c>tokens_per_minute</c>.</summary>
    public string? RefusedLimit { get; init; }

    public void Dispose()
    {
        budget?.Dispose();
        perMinute?.Dispose();
    }
}
