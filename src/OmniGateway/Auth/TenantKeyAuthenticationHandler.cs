using System.Security.Claims;
using System.Security.Cryptography;
using System.Text;
using System.Text.Encodings.Web;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authorization;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Primitives;
using OmniGateway.Errors;
using OmniGateway.Tenants;

namespace OmniGateway.Auth;

/// <summary>
/// Turns a key from any of the contract's three header forms into a tenant (or the admin). Only SHA-256
/// hashes are compared; the key itself is never stored, logged or echoed.
/// </summary>
public sealed class TenantKeyAuthenticationHandler(
    IOptionsMonitor<AuthenticationSchemeOptions> options,
    HandlerLoggerFactory logger,
    UrlEncoder encoder,
    ITenantDirectory tenants,
    ConfiguredTenantDirectory configured,
    AdminKey adminKey,
    AuthFailureThrottle throttle)
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
        var key = ReadKey(Request.Headers);
        if (key.IsEmpty) return AuthenticateResult.NoResult();

        var hash = KeyHashes.Of(key);
        if (adminKey.Matches(hash))
        {
            return Success(ClaimTypes.Role, AdminRole, KeyClaim, "admin");
        }

        // In memory, so before the throttle: a configured tenant behind a shared address is never locked out by a guesser.
        var tenant = await configured.FindByKeyHashAsync(hash, Context.RequestAborted);
        if (tenant is null)
        {
            var client = Context.Connection.RemoteIpAddress;
            if (throttle.IsThrottled(client, out var retryAfter))
            {
                Context.Items[ThrottledItem] = retryAfter;
                return Fail("throttled: too many failed keys from this address");
            }
            if (throttle.IsKnownUnknown(hash))
            {
                throttle.RecordFailure(client, hash);
                return Fail("unknown key (failed moments ago; not looked up again)");
            }
            tenant = await tenants.FindByKeyHashAsync(hash, Context.RequestAborted);
            if (tenant is null)
            {
                throttle.RecordFailure(client, hash);
                return Fail("unknown, revoked or disabled key");
            }
        }

        Context.Features.Set(tenant);
        return Success(TenantClaim, tenant.TenantId, KeyClaim, tenant.KeyId);
    }

    protected override Task HandleChallengeAsync(AuthenticationProperties properties)
    {
        if (Context.Items.TryGetValue(ThrottledItem, out var retryAfter) && retryAfter is int seconds)
            return GatewayErrors.RateLimited("too_many_failed_keys",
                "Too many requests with invalid API keys came from your address. Wait for Retry-After, then send a valid tenant key.", seconds).WriteAsync(Context);
        if (ReadKey(Request.Headers).IsEmpty)
        {
            Context.Items[RefusalLog.ReasonItem] = "no key sent";
            return GatewayErrors.MissingKey().WriteAsync(Context);
        }
        return GatewayErrors.InvalidKey().WriteAsync(Context);
    }

    private const string ThrottledItem = "og:auth-throttled";

    /// <summary>The failure's reason goes to the one refusal line (<see cref="RefusalLog"/>); the key never does.</summary>
    private AuthenticateResult Fail(string reason)
    {
        Context.Items[RefusalLog.ReasonItem] = reason;
        return AuthenticateResult.Fail(reason);
    }

    private static bool NeedsKey(Endpoint? endpoint) =>
        endpoint is not null && endpoint.Metadata.GetMetadata<IAllowAnonymous>() is null && endpoint.Metadata.GetMetadata<IAuthorizeData>() is not null;

    protected override Task HandleForbiddenAsync(AuthenticationProperties properties) =>
        GatewayErrors.Forbidden(Context.User.IsInRole(AdminRole)
            ? "The admin key cannot call the model API; use a tenant key."
            : "This endpoint needs the admin key; tenant keys cannot use it.").WriteAsync(Context);

    private static AuthenticateResult Success(string type, string value, string otherType, string otherValue)
    {
        var identity = new ClaimsIdentity(SchemeName);
        // A claim made with its identity as subject is kept as it is; made without one, the identity copies it (issue 11).
        identity.AddClaim(new Claim(type, value, ClaimValueTypes.String, ClaimsIdentity.DefaultIssuer, ClaimsIdentity.DefaultIssuer, identity));
        identity.AddClaim(new Claim(otherType, otherValue, ClaimValueTypes.String, ClaimsIdentity.DefaultIssuer, ClaimsIdentity.DefaultIssuer, identity));
        return AuthenticateResult.Success(new AuthenticationTicket(new ClaimsPrincipal(identity), SchemeName));
    }

    /// <summary><c>Authorization: Bearer k</c> (OpenAI SDKs), bare <c>Authorization: k</c> (the upstream's sample), <c>x-api-key: k</c>.</summary>
    public static ReadOnlySpan<char> ReadKey(IHeaderDictionary headers)
    {
        StringValues authorization = headers.Authorization;
        if (authorization.Count == 1 && authorization[0] is { Length: > 0 } value)
        {
            var span = value.AsSpan().Trim();
            if (span.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase)) span = span[7..].Trim();
            else if (span.Equals("Bearer", StringComparison.OrdinalIgnoreCase)) span = default; // "Bearer " with the key left out
            if (!span.IsEmpty) return span;
        }
        StringValues apiKey = headers["x-api-key"];
        return apiKey.Count == 1 && apiKey[0] is { Length: > 0 } key ? key.AsSpan().Trim() : default;
    }
}
