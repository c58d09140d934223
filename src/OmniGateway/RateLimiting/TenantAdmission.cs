using System.Globalization;
using OmniGateway.Auth;
using OmniGateway.Errors;
using OmniGateway.Tenants;
using OmniGateway.Usage;
using OmniGateway.Validation;

namespace OmniGateway.RateLimiting;

/// <summary>
/// The one admission step of <c>/v1/responses</c>. <see cref="AdmitRequestAsync"/> (the route's filter, before
/// the body is read, so a refused tenant costs no body read) refuses a tenant whose token or cost budget is spent, then takes
/// a requests-per-minute permit and a stream slot; <see cref="AdmitTokensAsync"/> (once the body is validated, since the estimate needs it, and
/// before any upstream call) reserves tokens per minute and budgets. Each refusal names its limit, in
/// its code and in <c>omnigateway_admission_refusals_total{limit}</c>. <see cref="RecordStored"/> is
/// the one hook that charges a finished call and settles its reservation. With <c>RateLimiting:Provider=Redis</c>
/// each half is one round trip to the counts every instance shares: two, because the first refuses before a
/// body of up to <c>Gateway:MaxRequestBodyBytes</c> is read and the second needs that body's estimate.
/// </summary>
/// <param name="costBudgets">The cost budgets, for their spent check before the body is read (bench/AdmissionBenchmarks measures the counts without them).</param>
public sealed class TenantAdmission(IRequestCounters counters, TokenAdmission tokens, AdmissionMetrics metrics, CostBudgets? costBudgets = null)
{
    /// <summary>A spent token or cost budget, requests per minute, then a stream slot held until the returned admission is disposed.</summary>
    public async ValueTask<Admitted> AdmitRequestAsync(HttpContext context)
    {
        var tenant = context.GetTenant();
        // Spent: no call can fit, so neither its body (up to Gateway:MaxRequestBodyBytes) nor an upstream try is worth starting.
        if (tokens.BudgetSpent(tenant) is { } spent) return Refuse(TokenAdmission.TokenBudget, spent);
        if (costBudgets?.Spent(tenant) is { } spentCost) return Refuse(CostBudgets.RefusedLimit, spentCost);
        var limits = tenant.Limits;
        if (limits.RequestsPerMinute is null && limits.ConcurrentStreams is null) return new Admitted(null, null);
        var count = await counters.TryStartAsync(tenant.TenantId, limits.RequestsPerMinute, limits.ConcurrentStreams);
        switch (count.RefusedLimit)
        {
            case null:
                return new Admitted(null, count.Slot);
            case RequestCount.RequestsPerMinute:
                return Refuse(count.RefusedLimit, GatewayErrors.RateLimited("requests_per_minute_exceeded",
                    string.Create(CultureInfo.InvariantCulture, $"Your tenant's limit of {limits.RequestsPerMinute} requests per minute is reached. Retry after the time given in Retry-After."),
                    count.RetryAfterSeconds));
            default:
                return Refuse(count.RefusedLimit, GatewayErrors.RateLimited("concurrent_streams_exceeded",
                    string.Create(CultureInfo.InvariantCulture, $"Your tenant already has {limits.ConcurrentStreams} streams open, its limit. Wait for one to finish."),
                    count.RetryAfterSeconds));
        }
    }

    /// <summary>Tokens per minute and budgets, from the validated request; the reservations are held until disposed.</summary>
    public async ValueTask<AdmittedTokens> AdmitTokensAsync(TenantContext tenant, ValidatedRequest request, string requestId)
    {
        var admitted = await tokens.AdmitAsync(tenant, request, requestId);
        if (admitted.RefusedLimit is { } limit) metrics.Refused(limit);
        return admitted;
    }

    /// <summary>After each record is stored: the call is charged its reported total, or its reservation when none was reported.</summary>
    public void RecordStored(UsageRecord record) => tokens.Charge(record);

    private Admitted Refuse(string limit, GatewayError error)
    {
        metrics.Refused(limit);
        return new Admitted(error, null);
    }

    /// <summary>An admitted request (holding its stream slot until disposed), or the refusal to send.</summary>
    public sealed class Admitted(GatewayError? rejection, IDisposable? slot) : IAsyncDisposable
    {
        public GatewayError? Rejection { get; } = rejection;

        /// <summary>A shared slot is released awaited (see RedisRequestCounters), an in-process one at once.</summary>
        public ValueTask DisposeAsync()
        {
            if (slot is IAsyncDisposable shared) return shared.DisposeAsync();
            slot?.Dispose();
            return ValueTask.CompletedTask;
        }
    }
}
