using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Options;

namespace OmniGateway.Shutdown;

/// <summary>
/// SIGTERM (the host's ApplicationStopping): readiness fails at once while the server stops accepting
/// and lets in-flight streams run on; when <c>Gateway:ShutdownTimeout</c> runs out,
/// <see cref="StreamsMustEnd"/> fires and every open relay ends its stream in-band. The host's own
/// shutdown timeout is set a margin beyond it, so those ends, their records and the ledger's final
/// commit happen before the process exits.
/// </summary>
public sealed partial class GracefulShutdown : IHostedService, IDisposable
{
    /// <summary>For the streams' error events, their records, and the ledger's last commit.</summary>
    public static readonly TimeSpan Margin = TimeSpan.FromSeconds(15);

    private readonly CancellationTokenSource _streamsMustEnd;
    private readonly IHostApplicationLifetime _lifetime;
    private readonly TimeSpan _timeout;
    private readonly ILogger<GracefulShutdown> _logger;
    private CancellationTokenRegistration _stopping;

    public GracefulShutdown(IHostApplicationLifetime lifetime, IOptions<ShutdownOptions> options, TimeProvider time, ILogger<GracefulShutdown> logger)
    {
        (_lifetime, _timeout, _logger) = (lifetime, options.Value.ShutdownTimeout, logger);
        _streamsMustEnd = new CancellationTokenSource(Timeout.InfiniteTimeSpan, time);
    }

    /// <summary>Fires <c>Gateway:ShutdownTimeout</c> after shutdown began.</summary>
    public CancellationToken StreamsMustEnd => _streamsMustEnd.Token;

    public bool Stopping => _lifetime.ApplicationStopping.IsCancellationRequested;

    public Task StartAsync(CancellationToken cancellationToken)
    {
        _stopping = _lifetime.ApplicationStopping.Register(() =>
        {
            Log.ShuttingDown(_logger, _timeout);
            _streamsMustEnd.CancelAfter(_timeout);
        });
        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public void Dispose()
    {
        _stopping.Dispose();
        _streamsMustEnd.Dispose();
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 9000, Level = LogLevel.Information, Message = "Shutting down: not ready, no new connections; open streams may run on for {ShutdownTimeout}")]
        public static partial void ShuttingDown(ILogger logger, TimeSpan shutdownTimeout);
    }
}

/// <summary>Not ready from the moment shutdown begins: load balancers stop sending before the streams end.</summary>
internal sealed class ShutdownHealthCheck(GracefulShutdown shutdown) : IHealthCheck
{
    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default) =>
        Task.FromResult(shutdown.Stopping ? HealthCheckResult.Unhealthy("shutting down") : HealthCheckResult.Healthy("running"));
}
