using System.Text.Json.Serialization;

namespace OmniGateway.Tenants;

// The admin API speaks the tenant shape of contract 6 (the same names as Gateway:Tenants), so an
// operator can move a tenant between configuration and the API unchanged. Input names match ignoring case.

public sealed record TenantDocument(
    [property: JsonPropertyName("Id")] string Id,
    [property: JsonPropertyName("Name")] string? Name,
    [property: JsonPropertyName("Disabled")] bool Disabled,
    [property: JsonPropertyName("AllowedModels")] IReadOnlyList<string> AllowedModels,
    [property: JsonPropertyName("Limits")] LimitsDocument Limits,
    [property: JsonPropertyName("Source")] string Source,
    [property: JsonPropertyName("Keys")] IReadOnlyList<KeyDocument> Keys,
    [property: JsonPropertyName("CreatedAt")] DateTimeOffset? CreatedAt,
    [property: JsonPropertyName("UpdatedAt")] DateTimeOffset? UpdatedAt)
{
    [JsonPropertyName("AllowedOrigins")] public IReadOnlyList<string> AllowedOrigins { get; init; } = [];

    public const string FromConfiguration = "configuration";
    public const string FromApi = "api";
}

public sealed record LimitsDocument(
    [property: JsonPropertyName("RequestsPerMinute")] int? RequestsPerMinute,
    [property: JsonPropertyName("ConcurrentStreams")] int? ConcurrentStreams,
    [property: JsonPropertyName("TokensPerMinute")] long? TokensPerMinute,
    [property: JsonPropertyName("DailyTokens")] long? DailyTokens,
    [property: JsonPropertyName("MonthlyTokens")] long? MonthlyTokens)
{
    [JsonPropertyName("DailyCost")] public decimal? DailyCost { get; init; }
    [JsonPropertyName("MonthlyCost")] public decimal? MonthlyCost { get; init; }
    [JsonPropertyName("CostCurrency")] public string? CostCurrency { get; init; }

    public static LimitsDocument From(TenantLimits limits) =>
        new(limits.RequestsPerMinute, limits.ConcurrentStreams, limits.TokensPerMinute, limits.DailyTokens, limits.MonthlyTokens)
        {
            DailyCost = limits.DailyCost,
            MonthlyCost = limits.MonthlyCost,
            CostCurrency = limits.CostCurrency,
        };
}

/// <summary>A key's public face: its id (a prefix of its hash), never the key or the whole hash.</summary>
public sealed record KeyDocument(
    [property: JsonPropertyName("Id")] string Id,
    [property: JsonPropertyName("Source")] string Source,
    [property: JsonPropertyName("CreatedAt")] DateTimeOffset? CreatedAt);

/// <summary>The answer to issuing a key: the only time the key itself is ever shown.</summary>
public sealed record IssuedKeyDocument(
    [property: JsonPropertyName("Id")] string Id,
    [property: JsonPropertyName("TenantId")] string TenantId,
    [property: JsonPropertyName("Key")] string Key,
    [property: JsonPropertyName("CreatedAt")] DateTimeOffset CreatedAt);
