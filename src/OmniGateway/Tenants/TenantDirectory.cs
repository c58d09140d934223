using System.Security.Cryptography;
using Microsoft.Extensions.Options;

namespace OmniGateway.Tenants;

/// <summary>
/// Configuration-seeded tenants and keys first (in memory), then keys issued through the admin API
/// (looked up by hash in the store on every request, so a revocation holds from the next request on,
/// on every instance). Where a tenant id is in both, configuration wins.
/// </summary>
public sealed class TenantDirectory(ConfiguredTenantDirectory configured, ITenantStore store, IOptions<GatewayOptions> options) : ITenantDirectory
{
    private readonly Dictionary<string, TenantOptions> _configuredById =
        options.Value.Tenants.Where(t => t.Id.Length > 0).ToDictionary(t => t.Id, StringComparer.Ordinal);

    public async ValueTask<TenantContext?> FindByKeyHashAsync(byte[] keySha256, CancellationToken cancellationToken)
    {
        if (await configured.FindByKeyHashAsync(keySha256, cancellationToken) is { } seeded) return seeded;

        var match = await store.FindKeyAsync(keySha256, cancellationToken);
        // The index found it by value; the constant-time check keeps the comparison itself free of timing hints.
        if (match is null || !CryptographicOperations.FixedTimeEquals(match.KeySha256, keySha256)) return null;

        if (_configuredById.TryGetValue(match.Key.TenantId, out var fromConfig))
        {
            return fromConfig.Disabled ? null : new TenantContext(fromConfig.Id, match.Key.KeyId, fromConfig.AllowedModels, fromConfig.Limits)
                { AllowedOrigins = Cors.Origins.NormalizeAll(fromConfig.AllowedOrigins) };
        }
        return match.Tenant is { Disabled: false } tenant
            ? new TenantContext(tenant.Id, match.Key.KeyId, tenant.AllowedModels, tenant.Limits) { AllowedOrigins = tenant.AllowedOrigins }
            : null;
    }

    public TenantOptions? FindConfigured(string id) => _configuredById.GetValueOrDefault(id);
}
