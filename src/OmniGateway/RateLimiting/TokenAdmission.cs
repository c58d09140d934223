using OmniGateway.Errors;
using OmniGateway.Tenants;
using OmniGateway.Usage;
using OmniGateway.Validation;

namespace OmniGateway.RateLimiting;

/// <summary>
/// The token half of admission, once the body is validated (the estimate needs it) and before any upstream
/// call: the budgets reserve the call's input estimate plus its output cap, lowered to fit, and tokens per
/// minute counts that reservation in flight. The lowered cap is what the upstream is sent.
/// </summary>
public sealed class TokenAdmission(TokenBudgets budgets, TokensPerMinute tokensPerMinute)
{
    public AdmittedTokens Admit(TenantContext tenant, ValidatedRequest request)
    {
        var budget = budgets.Admit(tenant, request.InputTokenEstimate, request.MaxOutputTokens);
        if (budget.Rejection is { } overBudget) return new AdmittedTokens(request, overBudget, null, null) { RefusedLimit = "token_budget" };
        var (perMinute, overRate) = tokensPerMinute.Admit(tenant, budget.ReservedTokens);
        if (overRate is not null)
        {
            budget.Dispose();
            return new AdmittedTokens(request, overRate, null, null) { RefusedLimit = "tokens_per_minute" };
        }
        if (budget.OutputTokens < request.MaxOutputTokens) request.ForwardMaxOutputTokens(budget.OutputTokens);
        return new AdmittedTokens(request with { ReservedTokens = budget.ReservedTokens }, null, budget, perMinute);
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
