using Microsoft.AspNetCore.Authentication;
using OmniGateway.Tenants;

namespace OmniGateway.Auth;

public static class AuthExtensions
{
    public const string TenantPolicy = "tenant";
    public const string AdminPolicy = "admin";

    public static IHostApplicationBuilder AddTenantAuth(this IHostApplicationBuilder builder)
    {
        builder.Services.AddSingleton<AdminKey>();
        builder.Services.AddSingleton<AuthFailureThrottle>();
        builder.Services.AddSingleton<HandlerLoggerFactory>();
        builder.Services.AddAuthentication(TenantKeyAuthenticationHandler.SchemeName)
            .AddScheme<AuthenticationSchemeOptions, TenantKeyAuthenticationHandler>(TenantKeyAuthenticationHandler.SchemeName, null);
        builder.Services.AddAuthorizationBuilder()
            .AddPolicy(TenantPolicy, policy => policy.RequireClaim(TenantKeyAuthenticationHandler.TenantClaim))
            .AddPolicy(AdminPolicy, policy => policy.RequireRole(TenantKeyAuthenticationHandler.AdminRole));
        return builder;
    }

    /// <summary>The tenant the authentication handler resolved; endpoints behind <see cref="TenantPolicy"/> always have one.</summary>
    public static TenantContext GetTenant(this HttpContext context) =>
        context.Features.Get<TenantContext>() ?? throw new InvalidOperationException("Endpoint is not behind the tenant policy.");
}
