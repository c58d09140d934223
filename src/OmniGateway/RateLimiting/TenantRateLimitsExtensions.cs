using System.Globalization;
using System.Threading.RateLimiting;
using Microsoft.AspNetCore.RateLimiting;
using OmniGateway.Errors;
using OmniGateway.Tenants;

namespace OmniGateway.RateLimiting;

/// <summary>
/// Per-tenant <c>RequestsPerMinute</c> and <c>ConcurrentStreams</c> (contract 6) on the model endpoint,
/// with the framework's rate limiter (AspNetCoreRateLimit is not served by our package source). Partitions
/// are keyed by the authenticated tenant, never by IP, and by the limit itself so a changed limit applies at once.
/// </summary>
public static class TenantRateLimitsExtensions
{
    /// <summary>Endpoint metadata: the endpoint counts against the tenant's request and stream limits.</summary>
    public sealed class TenantLimitedMetadata
    {
        public static readonly TenantLimitedMetadata Instance = new();
    }

    public static IHostApplicationBuilder AddTenantRateLimits(this IHostApplicationBuilder builder)
    {
        builder.Services.AddSingleton<TokensPerMinute>();
        builder.Services.AddSingleton<AdmissionMetrics>();
        builder.Services.AddSingleton<TokenAdmission>();
        builder.Services.AddRateLimiter(options =>
        {
            var perMinute = RequestsPerMinute();
            options.GlobalLimiter = PartitionedRateLimiter.CreateChained(perMinute, ConcurrentStreams());
            options.OnRejected = (rejected, _) => OnRejectedAsync(rejected, perMinute);
        });
        return builder;
    }

    public static TBuilder RequireTenantLimits<TBuilder>(this TBuilder builder) where TBuilder : IEndpointConventionBuilder =>
        builder.WithMetadata(TenantLimitedMetadata.Instance);

    private static PartitionedRateLimiter<HttpContext> RequestsPerMinute() =>
        PartitionedRateLimiter.Create<HttpContext, string>(context =>
            LimitsOf(context)?.RequestsPerMinute is { } perMinute && TenantOf(context) is { } tenant
                ? RateLimitPartition.GetSlidingWindowLimiter($"{tenant}:{perMinute}", _ => new SlidingWindowRateLimiterOptions
                {
                    PermitLimit = perMinute,
                    Window = TimeSpan.FromMinutes(1),
                    SegmentsPerWindow = SegmentsPerMinute,
                    QueueLimit = 0,
                })
                : RateLimitPartition.GetNoLimiter(""));

    private static PartitionedRateLimiter<HttpContext> ConcurrentStreams() =>
        PartitionedRateLimiter.Create<HttpContext, string>(context =>
            LimitsOf(context)?.ConcurrentStreams is { } streams && TenantOf(context) is { } tenant
                ? RateLimitPartition.GetConcurrencyLimiter($"{tenant}:{streams}", _ => new ConcurrencyLimiterOptions
                {
                    PermitLimit = streams,
                    QueueLimit = 0,
                })
                : RateLimitPartition.GetNoLimiter(""));

    private const int SegmentsPerMinute = 6;

    private static TenantLimits? LimitsOf(HttpContext context) =>
        context.GetEndpoint()?.Metadata.GetMetadata<TenantLimitedMetadata>() is null ? null : context.Features.Get<TenantContext>()?.Limits;

    private static string? TenantOf(HttpContext context) => context.Features.Get<TenantContext>()?.TenantId;

    private static async ValueTask OnRejectedAsync(OnRejectedContext rejected, PartitionedRateLimiter<HttpContext> perMinute)
    {
        // The chained lease does not say which limiter refused; an exhausted minute window does.
        // A sliding window frees permits segment by segment, so one segment is the honest Retry-After.
        var error = perMinute.GetStatistics(rejected.HttpContext) is { CurrentAvailablePermits: 0 }
            ? GatewayErrors.RateLimited("requests_per_minute_exceeded",
                "Your tenant's requests-per-minute limit is reached. Retry after the time given in Retry-After.",
                60 / SegmentsPerMinute)
            : GatewayErrors.RateLimited("concurrent_streams_exceeded",
                string.Create(CultureInfo.InvariantCulture,
                    $"Your tenant already has {rejected.HttpContext.Features.Get<TenantContext>()?.Limits.ConcurrentStreams} streams open, its limit. Wait for one to finish."),
                1);
        await error.WriteAsync(rejected.HttpContext);
    }
}
