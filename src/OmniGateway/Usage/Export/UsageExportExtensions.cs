using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Options;

namespace OmniGateway.Usage.Export;

public static class UsageExportExtensions
{
    /// <summary>The outbox (written by the ledger's transaction) and one delivery loop per <c>Usage:Export:Webhooks</c> entry.</summary>
    public static IHostApplicationBuilder AddUsageExport(this IHostApplicationBuilder builder)
    {
        builder.Services.AddOptions<UsageExportOptions>().BindConfiguration("Usage:Export").ValidateOnStart();
        builder.Services.AddSingleton<IValidateOptions<UsageExportOptions>, UsageExportOptionsValidator>();
        builder.Services.AddSingleton<UsageOutbox>();
        builder.Services.AddSingleton<WebhookDelivery>();
        builder.Services.AddHostedService(services => services.GetRequiredService<WebhookDelivery>());
        builder.Services.AddHealthChecks().AddCheck<UsageExportHealthCheck>("usage_export", tags: ["ready"]);
        return builder;
    }
}

/// <summary>Degraded (still ready: a down sink must not take the gateway out of service) while a sink fails or lags.</summary>
internal sealed class UsageExportHealthCheck(WebhookDelivery delivery, IOptions<UsageExportOptions> options) : IHealthCheck
{
    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        if (delivery.States.Count == 0) return Task.FromResult(HealthCheckResult.Healthy("no usage export sinks configured"));
        var parts = delivery.States.Select(s =>
            $"{s.Name}: {s.Pending} pending, lag {delivery.LagSeconds(s):0.#} s, {Interlocked.Read(ref s.Delivered)} delivered"
            + (s.LastError is null ? "" : $", failing ({s.ConsecutiveFailures} in a row: {s.LastError})"));
        var unhealthy = delivery.States.Any(s => s.ConsecutiveFailures > 0 || delivery.LagSeconds(s) > options.Value.LagThreshold.TotalSeconds);
        var description = string.Join("; ", parts);
        return Task.FromResult(unhealthy ? HealthCheckResult.Degraded(description) : HealthCheckResult.Healthy(description));
    }
}
