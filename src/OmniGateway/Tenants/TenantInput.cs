using System.Diagnostics.CodeAnalysis;
using System.Text.Json;
using System.Text.RegularExpressions;
using OmniGateway.Catalog;
using OmniGateway.Errors;

namespace OmniGateway.Tenants;

/// <summary>
/// A POST or PATCH body of the tenants API, checked field by field. Absent fields stay null (PATCH
/// leaves them alone); a limit given as null means no limit. Unknown fields are refused, so a typo
/// such as "DailyToken" cannot silently leave a tenant unlimited.
/// </summary>
public sealed partial class TenantInput
{
    private static readonly string[] LimitNames = ["RequestsPerMinute", "ConcurrentStreams", "TokensPerMinute", "DailyTokens", "MonthlyTokens", "DailyCost", "MonthlyCost", "CostCurrency"];
    private static readonly string[] ReadOnlyFields = ["Source", "Keys", "CreatedAt", "UpdatedAt"];

    public string? Id { get; private set; }
    public bool NameGiven { get; private set; }
    public string? Name { get; private set; }
    public bool? Disabled { get; private set; }
    public List<string>? AllowedModels { get; private set; }
    public List<string>? AllowedOrigins { get; private set; }

    /// <summary>Only the limits the body names, each with its new value (null: no limit).</summary>
    public Dictionary<string, long?> Limits { get; } = new(StringComparer.Ordinal);

    /// <summary>The cost budgets the body names (null: no budget), checked against the price table by <see cref="Usage.Pricing.CostBudgetRules"/>.</summary>
    public Dictionary<string, decimal?> CostLimits { get; } = new(StringComparer.Ordinal);

    public bool CostCurrencyGiven { get; private set; }
    public string? CostCurrency { get; private set; }

    public List<byte[]> KeySha256 { get; } = [];

    public static bool TryParse(JsonElement body, bool creating, ModelCatalog catalog,
        [NotNullWhen(true)] out TenantInput? input, [NotNullWhen(false)] out GatewayError? error)
    {
        var parsed = new TenantInput();
        error = Read(body, creating, catalog, parsed);
        input = error is null ? parsed : null;
        return error is null;
    }

    private static GatewayError? Read(JsonElement body, bool creating, ModelCatalog catalog, TenantInput input)
    {
        if (body.ValueKind != JsonValueKind.Object)
            return GatewayErrors.BadRequest("invalid_body", "The body must be a JSON object shaped like a Gateway:Tenants entry.");
        foreach (var property in body.EnumerateObject())
        {
            var error = property.Name.ToUpperInvariant() switch
            {
                "ID" => input.ReadId(property.Value),
                "NAME" => input.ReadName(property.Value),
                "DISABLED" => property.Value.ValueKind is JsonValueKind.True or JsonValueKind.False
                    ? Set(() => input.Disabled = property.Value.GetBoolean())
                    : Invalid("Disabled", "Disabled must be true or false."),
                "ALLOWEDMODELS" => input.ReadModels(property.Value, catalog),
                "LIMITS" => input.ReadLimits(property.Value),
                "ALLOWEDORIGINS" => input.ReadOrigins(property.Value),
                "KEYSHA256" when creating => input.ReadHashes(property.Value),
                "KEYSHA256" => Invalid("KeySha256", "Keys cannot be replaced by PATCH. Issue one with POST /admin/tenants/{id}/keys and revoke old ones with DELETE."),
                _ when ReadOnlyFields.Contains(property.Name, StringComparer.OrdinalIgnoreCase) => null,
                _ => GatewayErrors.BadRequest("unknown_field",
                    $"'{GatewayErrors.Truncate(property.Name)}' is not a tenant field. Fields: Id, Name, Disabled, AllowedModels, AllowedOrigins, Limits{(creating ? ", KeySha256" : "")}.",
                    property.Name),
            };
            if (error is not null) return error;
        }
        if (creating && input.Id is null)
            return Invalid("Id", "Id is required: 1 to 64 letters, digits, '.', '_' or '-', starting with a letter or digit.");
        return null;
    }

    /// <summary>The stored tenant after applying this input to <paramref name="current"/> (a new, empty one when creating).</summary>
    public StoredTenant ApplyTo(StoredTenant current, DateTimeOffset now)
    {
        var limits = new TenantLimits
        {
            RequestsPerMinute = Narrow(Pick("RequestsPerMinute", current.Limits.RequestsPerMinute)),
            ConcurrentStreams = Narrow(Pick("ConcurrentStreams", current.Limits.ConcurrentStreams)),
            TokensPerMinute = Pick("TokensPerMinute", current.Limits.TokensPerMinute),
            DailyTokens = Pick("DailyTokens", current.Limits.DailyTokens),
            MonthlyTokens = Pick("MonthlyTokens", current.Limits.MonthlyTokens),
            DailyCost = CostLimits.TryGetValue("DailyCost", out var daily) ? daily : current.Limits.DailyCost,
            MonthlyCost = CostLimits.TryGetValue("MonthlyCost", out var monthly) ? monthly : current.Limits.MonthlyCost,
            CostCurrency = CostCurrencyGiven ? CostCurrency : current.Limits.CostCurrency,
        };
        return current with
        {
            Name = NameGiven ? Name : current.Name,
            Disabled = Disabled ?? current.Disabled,
            AllowedModels = AllowedModels ?? current.AllowedModels,
            Limits = limits,
            AllowedOrigins = AllowedOrigins ?? current.AllowedOrigins,
            UpdatedAt = now,
        };
    }

    private long? Pick(string name, long? current) => Limits.TryGetValue(name, out var value) ? value : current;

    private static int? Narrow(long? value) => value is { } v ? (int)v : null; // range-checked when read

    private GatewayError? ReadId(JsonElement value)
    {
        if (value.ValueKind != JsonValueKind.String || !TenantId().IsMatch(value.GetString()!))
            return Invalid("Id", "Id must be 1 to 64 letters, digits, '.', '_' or '-', starting with a letter or digit.");
        Id = value.GetString();
        return null;
    }

    private GatewayError? ReadName(JsonElement value)
    {
        if (value.ValueKind is not (JsonValueKind.String or JsonValueKind.Null) || value.GetString() is { Length: > 200 })
            return Invalid("Name", "Name must be a string of at most 200 characters, or null.");
        (NameGiven, Name) = (true, value.GetString());
        return null;
    }

    private GatewayError? ReadModels(JsonElement value, ModelCatalog catalog)
    {
        if (value.ValueKind != JsonValueKind.Array) return Invalid("AllowedModels", "AllowedModels must be an array of model ids ([] allows every served model).");
        var models = new List<string>();
        var i = 0;
        foreach (var item in value.EnumerateArray())
        {
            if (item.ValueKind != JsonValueKind.String || catalog.Find(item.GetString()!) is null)
            {
                return GatewayErrors.BadRequest("unknown_model",
                    $"AllowedModels[{i}] is not a served model. Served: {string.Join(", ", catalog.Models.Select(m => m.Id))}.", $"AllowedModels[{i}]");
            }
            models.Add(item.GetString()!);
            i++;
        }
        AllowedModels = models;
        return null;
    }

    private GatewayError? ReadOrigins(JsonElement value)
    {
        if (value.ValueKind != JsonValueKind.Array)
            return Invalid("AllowedOrigins", "AllowedOrigins must be an array of browser origins such as [\"https://app.example.com\"] ([] allows none beyond Gateway:Cors:AllowedOrigins).");
        var origins = new List<string>();
        var i = 0;
        foreach (var item in value.EnumerateArray())
        {
            if (item.ValueKind != JsonValueKind.String || Cors.Origins.Normalize(item.GetString()) is not { } origin)
                return Invalid($"AllowedOrigins[{i}]", $"AllowedOrigins[{i}] is not an origin: {Cors.Origins.Rule}. A tenant cannot allow every origin (*).");
            if (!origins.Contains(origin)) origins.Add(origin);
            i++;
        }
        if (origins.Count > 100) return Invalid("AllowedOrigins", "AllowedOrigins may hold at most 100 origins.");
        AllowedOrigins = origins;
        return null;
    }

    private GatewayError? ReadLimits(JsonElement value)
    {
        if (value.ValueKind != JsonValueKind.Object) return Invalid("Limits", "Limits must be an object such as {\"DailyTokens\": 5000000}.");
        foreach (var limit in value.EnumerateObject())
        {
            var name = LimitNames.FirstOrDefault(n => string.Equals(n, limit.Name, StringComparison.OrdinalIgnoreCase));
            if (name is null)
            {
                return GatewayErrors.BadRequest("unknown_field",
                    $"'{GatewayErrors.Truncate(limit.Name)}' is not a limit. Limits: {string.Join(", ", LimitNames)}.", $"Limits.{limit.Name}");
            }
            if (name is "DailyCost" or "MonthlyCost")
            {
                // Range, decimals and currency are checked with the price table once the whole tenant is known.
                if (limit.Value.ValueKind == JsonValueKind.Null) CostLimits[name] = null;
                else if (limit.Value.ValueKind == JsonValueKind.Number && limit.Value.TryGetDecimal(out var amount) && amount >= 0) CostLimits[name] = amount;
                else return Invalid($"Limits.{name}", $"Limits.{name} must be a non-negative amount in the currency of the tenant's models' prices (e.g. 25.50), or null for no budget.");
                continue;
            }
            if (name == "CostCurrency")
            {
                if (limit.Value.ValueKind is not (JsonValueKind.String or JsonValueKind.Null))
                    return Invalid("Limits.CostCurrency", "Limits.CostCurrency must be an ISO 4217 code such as \"USD\", or null.");
                (CostCurrencyGiven, CostCurrency) = (true, limit.Value.GetString());
                continue;
            }
            var max = name is "RequestsPerMinute" or "ConcurrentStreams" ? int.MaxValue : long.MaxValue;
            if (limit.Value.ValueKind == JsonValueKind.Null) Limits[name] = null;
            else if (limit.Value.ValueKind == JsonValueKind.Number && limit.Value.TryGetInt64(out var number) && number > 0 && number <= max) Limits[name] = number;
            else return Invalid($"Limits.{name}", $"Limits.{name} must be a positive whole number, or null for no limit.");
        }
        return null;
    }

    private GatewayError? ReadHashes(JsonElement value)
    {
        if (value.ValueKind != JsonValueKind.Array) return Invalid("KeySha256", "KeySha256 must be an array of hex SHA-256 hashes of keys.");
        var i = 0;
        foreach (var item in value.EnumerateArray())
        {
            if (item.ValueKind != JsonValueKind.String || !KeyHashes.IsSha256Hex(item.GetString()!))
                return Invalid($"KeySha256[{i}]", $"KeySha256[{i}] must be 64 hex characters: the SHA-256 of the key, not the key itself.");
            KeySha256.Add(Convert.FromHexString(item.GetString()!));
            i++;
        }
        return null;
    }

    private static GatewayError? Set(Action apply)
    {
        apply();
        return null;
    }

    private static GatewayError Invalid(string param, string message) => GatewayErrors.BadRequest("invalid_tenant", message, param);

    [GeneratedRegex(@"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}\z")]
    public static partial Regex TenantId();
}
