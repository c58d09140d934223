using System.Security.Cryptography;
using Microsoft.Extensions.Options;

namespace OmniGateway.Tenants;

/// <summary>Tenants from <c>Gateway:Tenants</c>.</summary>
public sealed class ConfiguredTenantDirectory : ITenantDirectory
{
    private readonly (byte[] Hash, TenantContext Tenant)[] _keys;

    public ConfiguredTenantDirectory(IOptions<GatewayOptions> options)
    {
        _keys = options.Value.Tenants
            .Where(t => !t.Disabled)
            .SelectMany(t => t.KeySha256.Select(hex => (Hash: Convert.FromHexString(hex),
                Tenant: new TenantContext(t.Id, KeyIds.FromHash(Convert.FromHexString(hex)), t.AllowedModels, t.Limits)
                    { AllowedOrigins = Cors.Origins.NormalizeAll(t.AllowedOrigins) })))
            .ToArray();
    }

    public ValueTask<TenantContext?> FindByKeyHashAsync(byte[] keySha256, CancellationToken cancellationToken)
    {
        // Every stored hash is compared, in constant time, so timing says nothing about which key nearly matched.
        TenantContext? found = null;
        foreach (var (hash, tenant) in _keys)
        {
            if (CryptographicOperations.FixedTimeEquals(hash, keySha256)) found = tenant;
        }
        return ValueTask.FromResult(found);
    }
}

