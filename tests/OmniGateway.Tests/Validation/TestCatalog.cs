using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Options;
using OmniGateway.Catalog;
using OmniGateway.Tenants;

namespace OmniGateway.Tests.Validation;

/// <summary>The shipped catalogue (Catalog/voices.json), bound the way start-up binds it.</summary>
internal static class TestCatalog
{
    public const string Model = "qwen3.5-omni-plus-all";

    public static readonly TenantContext AnyModelTenant = new("tenant-a", "key-a", [], new TenantLimits());

    public static ModelCatalog Load(IDictionary<string, string?>? overrides = null)
    {
        var configuration = new ConfigurationBuilder()
            .AddJsonFile(Path.Combine(AppContext.BaseDirectory, CatalogExtensions.DefaultCatalogFile), optional: false)
            .AddInMemoryCollection(overrides ?? new Dictionary<string, string?>())
            .Build();
        var options = new ModelCatalogOptions();
        configuration.Bind(options);
        return new ModelCatalog(Options.Create(options));
    }
}
