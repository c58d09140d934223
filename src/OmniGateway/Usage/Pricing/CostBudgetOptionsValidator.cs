using Microsoft.Extensions.Options;
using OmniGateway.Catalog;
using OmniGateway.Tenants;

namespace OmniGateway.Usage.Pricing;

/// <summary>Start-up check of <c>Gateway:Tenants:N:Limits</c> cost budgets against the price table (<see cref="CostBudgetRules"/>).</summary>
internal sealed class CostBudgetOptionsValidator(IOptions<ModelCatalogOptions> catalog) : IValidateOptions<GatewayOptions>
{
    public ValidateOptionsResult Validate(string? name, GatewayOptions options)
    {
        var failures = new List<string>();
        for (var i = 0; i < options.Tenants.Count; i++)
        {
            var tenant = options.Tenants[i];
            if (CostBudgetRules.Check($"Gateway:Tenants:{i}:Limits:", tenant.Limits, tenant.AllowedModels, catalog.Value.Models) is { } problem)
                failures.Add(problem.Problem);
        }
        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }
}
