using System.Text.RegularExpressions;
using Microsoft.Extensions.Options;

namespace OmniGateway.Tenants;

public static class TenantsExtensions
{
    public static IHostApplicationBuilder AddTenants(this IHostApplicationBuilder builder)
    {
        builder.Services.AddOptions<GatewayOptions>()
            .BindConfiguration("Gateway")
            .ValidateOnStart();
        builder.Services.AddSingleton<IValidateOptions<GatewayOptions>, GatewayOptionsValidator>();
        builder.Services.AddSingleton<ConfiguredTenantDirectory>();
        // Configuration first, then keys issued by the admin API (ITenantStore, from AddUsageLedger).
        builder.Services.AddSingleton<TenantDirectory>();
        builder.Services.AddSingleton<ITenantDirectory>(services => services.GetRequiredService<TenantDirectory>());
        return builder;
    }
}

internal sealed partial class GatewayOptionsValidator : IValidateOptions<GatewayOptions>
{
    public ValidateOptionsResult Validate(string? name, GatewayOptions options)
    {
        var failures = new List<string>();
        var ids = new HashSet<string>(StringComparer.Ordinal);
        for (var i = 0; i < options.Tenants.Count; i++)
        {
            var tenant = options.Tenants[i];
            var key = $"Gateway:Tenants:{i}";
            if (string.IsNullOrWhiteSpace(tenant.Id)) failures.Add($"{key}:Id is required.");
            else if (!ids.Add(tenant.Id)) failures.Add($"{key}:Id '{tenant.Id}' is used by two tenants.");
            for (var k = 0; k < tenant.KeySha256.Count; k++)
            {
                if (!KeyHashes.IsSha256Hex(tenant.KeySha256[k]))
                    failures.Add($"{key}:KeySha256:{k} must be 64 hex characters (the SHA-256 of the key, not the key itself).");
            }
        }
        if (options.AdminKeySha256 is { } admin && !KeyHashes.IsSha256Hex(admin))
            failures.Add("Gateway:AdminKeySha256 must be 64 hex characters.");
        if (options.MaxRequestBodyBytes < 1024)
            failures.Add("Gateway:MaxRequestBodyBytes must be at least 1024.");
        if (options.StreamRequestBodiesFromBytes < 0)
            failures.Add("Gateway:StreamRequestBodiesFromBytes must be 0 (never) or a size in bytes.");
        if (options.RequestBodyTimeout <= TimeSpan.Zero)
            failures.Add("Gateway:RequestBodyTimeout must be a positive time span, such as 00:02:00.");
        // A body's buffer grows in steps, and a streamed body keeps the buffers it outgrew: the largest body holds more than its size.
        var largest = Validation.RequestBufferBudget.LargestBodyHolds(options);
        if (options.MaxBufferedRequestBytes < largest)
            failures.Add($"Gateway:MaxBufferedRequestBytes must be at least {largest} bytes, what a body of Gateway:MaxRequestBodyBytes holds while it is read, or no body of the largest size could ever be read.");
        if (options.MaxBufferedRequestBytesPerTenant is { } share && (share < largest || share > options.MaxBufferedRequestBytes))
            failures.Add($"Gateway:MaxBufferedRequestBytesPerTenant must be at least {largest} bytes (what a body of Gateway:MaxRequestBodyBytes holds while it is read) and at most Gateway:MaxBufferedRequestBytes.");
        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }
}
