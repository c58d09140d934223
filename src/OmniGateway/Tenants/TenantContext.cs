namespace OmniGateway.Tenants;

/// <summary>The authenticated caller: which tenant, through which key. Never holds the key itself.</summary>
public sealed record TenantContext(string TenantId, string KeyId, IReadOnlyList<string> AllowedModels, TenantLimits Limits)
{
    /// <summary>Normalised browser origins of this tenant (Gateway:Cors:AllowedOrigins apply as well).</summary>
    public IReadOnlyList<string> AllowedOrigins { get; init; } = [];

    public bool MayUse(string model) => AllowedModels.Count == 0 || AllowedModels.Contains(model, StringComparer.Ordinal);
}
