using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace OmniGateway.Upstream;

/// <summary>Ready when an upstream is configured; in simulator mode it says so, loudly, but stays ready.</summary>
internal sealed class UpstreamHealthCheck(UpstreamClient upstream) : IHealthCheck
{
    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default) =>
        Task.FromResult(upstream.Mode == UpstreamMode.Simulator
            ? HealthCheckResult.Healthy("SIMULATOR: no upstream key configured; answers are simulated")
            : upstream.Destinations.Readiness());
}
