using System.Runtime.CompilerServices;
using Microsoft.Extensions.Options;

namespace OmniGateway.RateLimiting;

/// <summary>
/// Per-tenant admission (contract 6) on the model endpoint: requests per minute, concurrent streams,
/// tokens per minute and budgets, all decided by <see cref="TenantAdmission"/>. Counts are keyed by
/// the authenticated tenant, never by IP, and by the limit itself, so a limit changed through the admin
/// API applies from the next request on, on every instance.
/// </summary>
public static class TenantRateLimitsExtensions
{
    public static IHostApplicationBuilder AddTenantRateLimits(this IHostApplicationBuilder builder)
    {
        builder.Services.AddSingleton<TokensPerMinute>();
        builder.Services.AddSingleton<AdmissionMetrics>();
        builder.Services.AddSingleton<TokenAdmission>();
        builder.Services.AddSingleton<TenantAdmission>();
        builder.Services.AddOptions<RateLimitingOptions>().BindConfiguration("RateLimiting").ValidateOnStart();
        builder.Services.AddSingleton<IValidateOptions<RateLimitingOptions>, RateLimitingOptionsValidator>();
        builder.Services.AddSingleton<MemoryRequestCounters>();
        builder.Services.AddSingleton<IRequestCounters>(services => services.GetRequiredService<IOptions<RateLimitingOptions>>().Value.UsesRedis
            ? ActivatorUtilities.CreateInstance<RedisRequestCounters>(services)
            : services.GetRequiredService<MemoryRequestCounters>());
        builder.Services.AddHostedService<SharedCountsConnector>();
        builder.Services.AddHealthChecks().AddCheck<SharedCountsHealthCheck>("rate_limiting", tags: ["ready"]);
        return builder;
    }

    /// <summary>The route's admission step: requests and streams before the body is read; tokens once it is validated.</summary>
    public static TBuilder RequireTenantLimits<TBuilder>(this TBuilder builder) where TBuilder : IEndpointConventionBuilder =>
        // Pooled state machine: the filter runs once per call and its ValueTask is awaited once (issue 11, allocated per stream).
        // Admission from the root provider, once: RequestServices would make a DI scope per request (issue 11).
        builder.AddEndpointFilterFactory((factory, next) =>
        {
            var admission = factory.ApplicationServices.GetRequiredService<TenantAdmission>();
            return [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))] async ValueTask<object?> (invocation) =>
            {
                await using var admitted = await admission.AdmitRequestAsync(invocation.HttpContext);
                if (admitted.Rejection is { } refused)
                {
                    await refused.WriteAsync(invocation.HttpContext);
                    return Results.Empty;
                }
                return await next(invocation);
            };
        });
}
