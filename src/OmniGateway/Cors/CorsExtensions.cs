using Microsoft.Extensions.Options;
using OmniGateway.Tenants;

namespace OmniGateway.Cors;

public static class CorsExtensions
{
    public static IHostApplicationBuilder AddBrowserCors(this IHostApplicationBuilder builder)
    {
        builder.Services.AddCors();
        builder.Services.AddOptions<BrowserCorsOptions>().BindConfiguration("Gateway:Cors").ValidateOnStart();
        builder.Services.AddSingleton<IValidateOptions<BrowserCorsOptions>, BrowserCorsOptionsValidator>();
        builder.Services.AddSingleton<IValidateOptions<GatewayOptions>, TenantOriginsValidator>();
        builder.Services.AddSingleton<AllowedOrigins>();
        return builder;
    }

    /// <summary>Before authentication: preflights carry no key and must not reach the 401.</summary>
    public static WebApplication UseBrowserCors(this WebApplication app)
    {
        app.UseMiddleware<BrowserCorsMiddleware>();
        return app;
    }
}

internal sealed class BrowserCorsOptionsValidator : IValidateOptions<BrowserCorsOptions>
{
    public ValidateOptionsResult Validate(string? name, BrowserCorsOptions options)
    {
        var failures = options.AllowedOrigins
            .Select((origin, i) => (origin, i))
            .Where(o => o.origin != Origins.Any && Origins.Normalize(o.origin) is null)
            .Select(o => $"Gateway:Cors:AllowedOrigins:{o.i} '{o.origin}' is not an origin: {Origins.Rule}, or * for every origin.")
            .ToList();
        if (options.PreflightMaxAge < TimeSpan.Zero) failures.Add("Gateway:Cors:PreflightMaxAge must not be negative.");
        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }
}

internal sealed class TenantOriginsValidator : IValidateOptions<GatewayOptions>
{
    public ValidateOptionsResult Validate(string? name, GatewayOptions options)
    {
        var failures = new List<string>();
        for (var t = 0; t < options.Tenants.Count; t++)
        {
            for (var o = 0; o < options.Tenants[t].AllowedOrigins.Count; o++)
            {
                var origin = options.Tenants[t].AllowedOrigins[o];
                if (Origins.Normalize(origin) is null)
                    failures.Add($"Gateway:Tenants:{t}:AllowedOrigins:{o} '{origin}' is not an origin: {Origins.Rule} (no wildcard per tenant).");
            }
        }
        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }
}
