using System.Globalization;
using OmniGateway.Catalog;
using OmniGateway.Tenants;

namespace OmniGateway.Usage.Pricing;

/// <summary>
/// What a tenant's <c>DailyCost</c> / <c>MonthlyCost</c> must satisfy, checked where tenants come from
/// (start-up for <c>Gateway:Tenants</c>, the admin API for stored ones): an amount the totals can hold,
/// and one currency across every price of every model the tenant may use, so a budget is never compared
/// with a cost in another currency.
/// </summary>
public static class CostBudgetRules
{
    /// <summary>The budget totals count 1e-9 currency units in 64 bits; a budget far below that keeps every sum in range.</summary>
    public const decimal MaxBudget = 1_000_000_000m;

    public const int MaxDecimals = 9;

    /// <summary>The first problem, as a sentence naming the key (<paramref name="prefix"/> + <c>DailyCost</c> …), or null.</summary>
    public static (string Key, string Problem)? Check(string prefix, TenantLimits limits, IReadOnlyList<string> allowedModels,
        IReadOnlyDictionary<string, ModelOptions> models)
    {
        foreach (var (name, amount) in new[] { ("DailyCost", limits.DailyCost), ("MonthlyCost", limits.MonthlyCost) })
        {
            if (amount is not { } value) continue;
            if (value < 0 || value > MaxBudget)
                return (prefix + name, $"{prefix}{name} must be between 0 and {MaxBudget.ToString(CultureInfo.InvariantCulture)} (got {value.ToString(CultureInfo.InvariantCulture)}).");
            if (decimal.Round(value, MaxDecimals) != value)
                return (prefix + name, $"{prefix}{name} has more than {MaxDecimals} decimal places ({value.ToString(CultureInfo.InvariantCulture)}).");
        }
        if (limits.CostCurrency is { } given && (given.Length != 3 || !given.All(char.IsAsciiLetterUpper)))
            return (prefix + "CostCurrency", $"{prefix}CostCurrency must be an ISO 4217 code in upper case, e.g. USD or CNY (got '{given}').");
        if (!limits.HasCostBudget) return null;

        // Every model the tenant may call must be priced, all in one currency: the budget's.
        var key = prefix + (limits.DailyCost is not null ? "DailyCost" : "MonthlyCost");
        var (currency, firstModel) = (limits.CostCurrency, (string?)null);
        var ids = allowedModels.Count > 0 ? allowedModels.Where(models.ContainsKey) : models.Keys.Order(StringComparer.Ordinal);
        foreach (var id in ids)
        {
            var prices = models[id].Prices;
            if (prices.Count == 0)
                return (key, $"{key} is set, but model '{id}' (which this tenant may use) has no price (Models:{id}:Prices), so its calls could not be " +
                             "counted against the budget. Price the model, or limit the tenant's AllowedModels to priced models.");
            foreach (var price in prices)
            {
                if (price.Currency is null || price.Currency == currency) continue; // a missing currency is named by the catalogue's own check
                if (currency is null) { (currency, firstModel) = (price.Currency, id); continue; }
                return firstModel is null
                    ? (prefix + "CostCurrency", $"{prefix}CostCurrency is {currency}, but model '{id}' (which this tenant may use) is priced in {price.Currency}. " +
                                                $"Set CostCurrency to {price.Currency}, or limit the tenant's AllowedModels to models priced in {currency}.")
                    : (key, $"{key} is one amount, but the models this tenant may use are priced in two currencies ({currency} for '{firstModel}', " +
                            $"{price.Currency} for '{id}'). Limit the tenant's AllowedModels to models priced in one currency.");
            }
        }
        return null;
    }
}
