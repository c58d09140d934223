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
        builder.Services.AddSingleton<TenantKeys>();
        builder.Services.AddAuthentication(TenantKeyAuthenticationHandler.SchemeName)
            .AddScheme<AuthenticationSchemeOptions, TenantKeyAuthenticationHandler>(TenantKeyAuthenticationHandler.SchemeName, null);
        builder.Services.AddAuthorizationBuilder()
            .AddPolicy(TenantPolicy, policy => policy.RequireClaim(TenantKeyAuthenticationHandler.TenantClaim))
            .AddPolicy(AdminPolicy, policy => policy.RequireRole(TenantKeyAuthenticationHandler.AdminRole));
        return builder;
    }

    /// <summary>
    /// Authentication and authorization for every endpoint except those whose own filter checks the key
    /// (<see cref="TenantKeyFilter"/>, the model endpoint): there neither middleware runs, nor is needed.
    /// </summary>
    public static WebApplication UseTenantAuth(this WebApplication app)
    {
        app.UseWhen(static context => context.GetEndpoint()?.Metadata.GetMetadata<TenantKeyRequired>() is null, branch =>
        {
            branch.UseAuthentication();
            branch.UseAuthorization();
        });
        // UseAuthentication and UseAuthorization mark the builder they are called on; the branch's marks stay in the branch, and
        // WebApplication, seeing none on the app, would add both middlewares again at the pipeline's start (before the request id
        // and the CORS check, and for every endpoint). The marks' names are those of AuthAppBuilderExtensions and
        // AuthorizationAppBuilderExtensions in aspnetcore.
        var marks = ((IApplicationBuilder)app).Properties;
        marks["__AuthenticationMiddlewareSet"] = true;
        marks["__AuthorizationMiddlewareSet"] = true;
        return app;
    }

    /// <summary>The tenant the key check resolved; endpoints behind <see cref="TenantPolicy"/> or <see cref="TenantKeyFilter"/> always have one.</summary>
    public static TenantContext GetTenant(this HttpContext context) =>
        context.Features.Get<TenantContext>() ?? throw new InvalidOperationException("Endpoint is not behind the tenant policy or the tenant key filter.");
}
