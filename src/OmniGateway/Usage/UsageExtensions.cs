using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Options;
using OmniGateway.Tenants;
using OmniGateway.Usage.Storage;

namespace OmniGateway.Usage;

public static class UsageExtensions
{
    public static IHostApplicationBuilder AddUsageLedger(this IHostApplicationBuilder builder)
    {
        builder.Services.AddOptions<UsageOptions>().BindConfiguration("Usage").ValidateOnStart();
        builder.Services.AddSingleton<IValidateOptions<UsageOptions>, UsageOptionsValidator>();
        builder.Services.AddSingleton<UsageDatabase>();
        builder.Services.AddSingleton<SqlUsageStore>();
        builder.Services.AddSingleton<ITenantStore, SqlTenantStore>();
        builder.Services.AddSingleton<TokenBudgets>();
        builder.Services.AddSingleton<UsageJournal>();
        builder.Services.AddSingleton<GroupCommitLedger>();
        builder.Services.AddSingleton<IUsageLedger>(services => services.GetRequiredService<GroupCommitLedger>());
        builder.Services.AddSingleton<Pricing.PriceTable>();
        builder.Services.AddSingleton<UsageRecorder>();
        builder.Services.AddHostedService<UsageStoreStartup>();
        builder.Services.AddHealthChecks().AddCheck<UsageStoreHealthCheck>("usage_store", tags: ["ready"]);
        return builder;
    }
}

/// <summary>
/// Schema first, before any hosted service starts (the server included): no request may meet a
/// missing table. An unreachable store stops start-up, as invalid configuration does.
/// </summary>
internal sealed partial class UsageStoreStartup(UsageDatabase database, GroupCommitLedger ledger, Observability.GatewayMetrics metrics, ILogger<UsageStoreStartup> logger)
    : IHostedLifecycleService
{
    public async Task StartingAsync(CancellationToken cancellationToken)
    {
        await database.MigrateAsync(cancellationToken);
        await ledger.StartAsync(cancellationToken);
        metrics.ObserveLedger(ledger);
        Log.StoreReady(logger, database.Provider);
    }

    public Task StartAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    public Task StartedAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    public Task StoppingAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    public Task StoppedAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    private static partial class Log
    {
        [LoggerMessage(EventId = 7020, Level = LogLevel.Information, Message = "Usage store ready ({UsageProvider}); schema up to date")]
        public static partial void StoreReady(ILogger logger, UsageProvider usageProvider);
    }
}

/// <summary>Ready when the store takes a write lock, the last ledger commit went through, and no failed commit's records still wait in the journal.</summary>
internal sealed class UsageStoreHealthCheck(SqlUsageStore store, GroupCommitLedger ledger) : IHealthCheck
{
    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        try
        {
            await store.ProbeWritableAsync(cancellationToken);
        }
        catch (Exception exception) when (exception is not OperationCanceledException)
        {
            return HealthCheckResult.Unhealthy($"usage store ({store.Database.Provider}) is not writable: {exception.GetType().Name}");
        }
        if (ledger.LastFailure is { } failure) return HealthCheckResult.Unhealthy($"the last usage commit failed: {failure.GetType().Name}");
        return ledger.JournalPending is > 0 and var pending
            ? HealthCheckResult.Unhealthy($"{pending} usage records of failed commits wait in the local journal for the store")
            : HealthCheckResult.Healthy($"usage store ({store.Database.Provider}) writable; {ledger.RecordsCommitted} records in {ledger.Commits} commits since start");
    }
}
