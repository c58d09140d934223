namespace OmniGateway.Tenants;

/// <summary>Resolves a key's SHA-256 to its tenant. Configuration seeds it; the admin API adds to it.</summary>
public interface ITenantDirectory
{
    ValueTask<TenantContext?> FindByKeyHashAsync(byte[] keySha256, CancellationToken cancellationToken);
}
