using Microsoft.Extensions.Options;
using OmniGateway.Tenants;

namespace OmniGateway.Cors;

/// <summary>
/// Which origins may call: <c>Gateway:Cors:AllowedOrigins</c> for everyone, plus each tenant's own list.
/// A preflight carries no key, so it is answered for an origin that is allowed globally or by any
/// tenant; the real request is then held to the authenticated tenant's list.
/// </summary>
public sealed class AllowedOrigins : IDisposable
{
    // API-managed tenants' lists are re-read at most once a second, when a preflight needs them: a tenant's new
    // or removed origin holds within a second on every instance, and anonymous preflights cannot hammer the store.
    private static readonly TimeSpan StoreRefresh = TimeSpan.FromSeconds(1);

    private readonly ITenantStore _store;
    private readonly TimeProvider _time;
    private readonly HashSet<string> _global;
    private readonly HashSet<string> _anyConfiguredTenant;
    private readonly SemaphoreSlim _reload = new(1, 1);
    private volatile StoredOrigins _stored = new([], DateTimeOffset.MinValue);

    public AllowedOrigins(IOptions<BrowserCorsOptions> cors, IOptions<GatewayOptions> gateway, ITenantStore store, TimeProvider time)
    {
        (_store, _time) = (store, time);
        AnyOrigin = cors.Value.AllowedOrigins.Contains(Origins.Any);
        _global = ToSet(cors.Value.AllowedOrigins.Where(o => o != Origins.Any));
        _anyConfiguredTenant = ToSet(gateway.Value.Tenants.Where(t => !t.Disabled).SelectMany(t => t.AllowedOrigins));
    }

    /// <summary><c>Gateway:Cors:AllowedOrigins</c> holds <c>*</c>.</summary>
    public bool AnyOrigin { get; }

    /// <summary>For preflights: allowed globally or by any tenant.</summary>
    public async ValueTask<bool> IsAllowedForAnyoneAsync(string origin, CancellationToken cancellationToken)
    {
        if (AnyOrigin || _global.Contains(origin) || _anyConfiguredTenant.Contains(origin)) return true;
        var stored = _stored;
        if (_time.GetUtcNow() - stored.LoadedAt < StoreRefresh) return stored.Origins.Contains(origin);

        await _reload.WaitAsync(cancellationToken);
        try
        {
            if (_time.GetUtcNow() - _stored.LoadedAt >= StoreRefresh)
            {
                var tenants = await _store.ListAsync(cancellationToken);
                _stored = new StoredOrigins(ToSet(tenants.Where(t => !t.Disabled).SelectMany(t => t.AllowedOrigins)), _time.GetUtcNow());
            }
            return _stored.Origins.Contains(origin);
        }
        finally
        {
            _reload.Release();
        }
    }

    /// <summary>For a request with a key: allowed globally or by this tenant (null: the admin key, global origins only).</summary>
    public bool IsAllowedFor(TenantContext? tenant, string origin) =>
        AnyOrigin || _global.Contains(origin) || (tenant is not null && tenant.AllowedOrigins.Contains(origin, StringComparer.Ordinal));

    public void Dispose() => _reload.Dispose();

    private static HashSet<string> ToSet(IEnumerable<string> origins) =>
        origins.Select(Origins.Normalize).OfType<string>().ToHashSet(StringComparer.Ordinal);

    private sealed record StoredOrigins(HashSet<string> Origins, DateTimeOffset LoadedAt);
}
