using System.Security.Claims;
using System.Text.Encodings.Web;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authorization;
using Microsoft.Extensions.Options;
using OmniGateway.Errors;
using OmniGateway.Tenants;

namespace OmniGateway.Auth;

/// <summary>
/// The key check (<see cref="TenantKeys"/>) as ASP.NET Core authentication, for the endpoints a policy guards
/// (and the CORS check): the verdict becomes a principal with the tenant's or the admin's claims, or a failure
/// whose challenge is the gateway's error object.
/// </summary>
public sealed class TenantKeyAuthenticationHandler(
    IOptionsMonitor<AuthenticationSchemeOptions> options,
    HandlerLoggerFactory logger,
    UrlEncoder encoder,
    TenantKeys keys)
    : AuthenticationHandler<AuthenticationSchemeOptions>(options, logger, encoder)
{
    public const string SchemeName = "TenantKey";
    public const string TenantClaim = "og:tenant";
    public const string KeyClaim = "og:key";
    public const string AdminRole = "admin";

    protected override async Task<AuthenticateResult> HandleAuthenticateAsync()
    {
        // An endpoint that needs no key (health, metrics, Swagger, a 404) never costs a hash or a lookup.
        if (!NeedsKey(Context.GetEndpoint())) return AuthenticateResult.NoResult();
        var check = await keys.CheckAsync(Context);
        switch (check.Verdict)
        {
            case KeyVerdict.NoKey:
                return AuthenticateResult.NoResult();
            case KeyVerdict.Admin:
                return Success(ClaimTypes.Role, AdminRole, KeyClaim, "admin");
            case KeyVerdict.Tenant:
                return Success(TenantClaim, check.Tenant!.TenantId, KeyClaim, check.Tenant.KeyId); // a tenant verdict carries its tenant
            default:
                Context.Items[RefusalLog.ReasonItem] = check.Reason; // the failure's reason goes to the one refusal line; the key never does
                return AuthenticateResult.Fail(check.Reason!);
        }
    }

    protected override Task HandleChallengeAsync(AuthenticationProperties properties)
    {
        var check = Context.Features.Get<KeyCheck>() ?? KeyCheck.NoKey;
        return TenantKeyFilter.Refusal(Context, check).WriteAsync(Context);
    }

    /// <summary>Policy-guarded endpoints, and the model endpoint's own filter: the CORS check authenticates for both.</summary>
    private static bool NeedsKey(Endpoint? endpoint) =>
        endpoint is not null && endpoint.Metadata.GetMetadata<IAllowAnonymous>() is null
        && (endpoint.Metadata.GetMetadata<IAuthorizeData>() is not null || endpoint.Metadata.GetMetadata<TenantKeyRequired>() is not null);

    protected override Task HandleForbiddenAsync(AuthenticationProperties properties) =>
        (Context.User.IsInRole(AdminRole) ? TenantKeyFilter.AdminOnModelApi() : GatewayErrors.Forbidden("This endpoint needs the admin key; tenant keys cannot use it."))
            .WriteAsync(Context);

    private static AuthenticateResult Success(string type, string value, string otherType, string otherValue)
    {
        var identity = new ClaimsIdentity(SchemeName);
        // A claim made with its identity as subject is kept as it is; made without one, the identity copies it (issue 11).
        identity.AddClaim(new Claim(type, value, ClaimValueTypes.String, ClaimsIdentity.DefaultIssuer, ClaimsIdentity.DefaultIssuer, identity));
        identity.AddClaim(new Claim(otherType, otherValue, ClaimValueTypes.String, ClaimsIdentity.DefaultIssuer, ClaimsIdentity.DefaultIssuer, identity));
        return AuthenticateResult.Success(new AuthenticationTicket(new ClaimsPrincipal(identity), SchemeName));
    }
}
