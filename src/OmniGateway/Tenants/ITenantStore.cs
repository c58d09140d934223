namespace OmniGateway.Tenants;

/// <summary>A tenant created through the admin API (configuration-seeded tenants are not stored).</summary>
public sealed record StoredTenant(
    string Id,
    string? Name,
    bool Disabled,
    IReadOnlyList<string> AllowedModels,
    TenantLimits Limits,
    DateTimeOffset CreatedAt,
    DateTimeOffset UpdatedAt)
{
    public IReadOnlyList<string> AllowedOrigins { get; init; } = [];
}

/// <summary>A key issued through the admin API, for any tenant. Only its SHA-256 is stored.</summary>
public sealed record StoredKey(string KeyId, string TenantId, DateTimeOffset CreatedAt);

/// <summary>A live key found by its hash, with its tenant's row when that tenant is API-managed.</summary>
public sealed record StoredKeyMatch(StoredKey Key, byte[] KeySha256, StoredTenant? Tenant);

/// <summary>API-managed tenants and keys, kept in the usage store (contract 6).</summary>
public interface ITenantStore
{
    Task<IReadOnlyList<StoredTenant>> ListAsync(CancellationToken cancellationToken);
    Task<StoredTenant?> GetAsync(string id, CancellationToken cancellationToken);

    Task<TenantCreateResult> CreateAsync(StoredTenant tenant, IReadOnlyList<(string KeyId, byte[] Sha256)> keys, CancellationToken cancellationToken);

    Task<bool> UpdateAsync(StoredTenant tenant, CancellationToken cancellationToken);

    /// <summary>Deletes the tenant, revokes its keys and retires its id for good; its usage records stay.</summary>
    Task<bool> DeleteAsync(string id, CancellationToken cancellationToken);

    /// <summary>Live (unrevoked) keys; of one tenant, or of all when <paramref name="tenantId"/> is null.</summary>
    Task<IReadOnlyList<StoredKey>> ListKeysAsync(string? tenantId, CancellationToken cancellationToken);

    /// <summary>False when the hash or the key id is already stored.</summary>
    Task<bool> AddKeyAsync(StoredKey key, byte[] keySha256, CancellationToken cancellationToken);

    Task<bool> RevokeKeyAsync(string tenantId, string keyId, CancellationToken cancellationToken);

    /// <summary>An indexed lookup by hash; the caller still compares the hash in constant time.</summary>
    Task<StoredKeyMatch?> FindKeyAsync(byte[] keySha256, CancellationToken cancellationToken);
}

public enum TenantCreateResult { Created, IdTaken, KeyTaken, IdRetired }
