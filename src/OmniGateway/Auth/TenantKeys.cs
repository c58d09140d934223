using Microsoft.Extensions.Primitives;
using OmniGateway.Tenants;

namespace OmniGateway.Auth;

/// <summary>What a request's key turned out to be: none, the admin's, a tenant's, or refused (unknown, or its address throttled).</summary>
public enum KeyVerdict { NoKey, Admin, Tenant, Unknown, Throttled }

/// <summary>One request's key check, made once and kept on the request (<see cref="TenantKeys.CheckAsync"/>).</summary>
public sealed record KeyCheck(KeyVerdict Verdict, TenantContext? Tenant = null, string? Reason = null, int RetryAfterSeconds = 0)
{
    public static readonly KeyCheck NoKey = new(KeyVerdict.NoKey, Reason: "no key sent");
    public static readonly KeyCheck Admin = new(KeyVerdict.Admin);
}

/// <summary>
/// The one place a key from any of the contract's three header forms becomes a tenant (or the admin). Only SHA-256
/// hashes are compared; the key itself is never stored, logged or echoed. Both ways in ask it: the authentication
/// handler (every policy-guarded endpoint, and the CORS check) and the model endpoint's own filter
/// (<see cref="TenantKeyFilter"/>). The verdict is kept on the request, so a key is looked up, and a failure
/// counted against its address, once per request whoever asks first.
/// </summary>
public sealed class TenantKeys(ITenantDirectory tenants, ConfiguredTenantDirectory configured, AdminKey adminKey, AuthFailureThrottle throttle)
{
    /// <summary>The request's verdict: made by the first caller, then the same for every other.</summary>
    public async ValueTask<KeyCheck> CheckAsync(HttpContext context) // a state machine box only when a store lookup waits
    {
        if (context.Features.Get<KeyCheck>() is { } made) return made;
        var check = await MakeAsync(context);
        context.Features.Set(check);
        if (check.Tenant is { } tenant) context.Features.Set(tenant);
        return check;
    }

    private async ValueTask<KeyCheck> MakeAsync(HttpContext context)
    {
        var key = ReadKey(context.Request.Headers);
        if (key.IsEmpty) return KeyCheck.NoKey;

        var hash = KeyHashes.Of(key);
        if (adminKey.Matches(hash)) return KeyCheck.Admin;

        // In memory, so before the throttle: a configured tenant behind a shared address is never locked out by a guesser.
        if (await configured.FindByKeyHashAsync(hash, context.RequestAborted) is { } configuredTenant) return new KeyCheck(KeyVerdict.Tenant, configuredTenant);

        var client = context.Connection.RemoteIpAddress;
        if (throttle.IsThrottled(client, out var retryAfter))
            return new KeyCheck(KeyVerdict.Throttled, Reason: "throttled: too many failed keys from this address", RetryAfterSeconds: retryAfter);
        if (throttle.IsKnownUnknown(hash))
        {
            throttle.RecordFailure(client, hash);
            return new KeyCheck(KeyVerdict.Unknown, Reason: "unknown key (failed moments ago; not looked up again)");
        }
        if (await tenants.FindByKeyHashAsync(hash, context.RequestAborted) is { } tenant) return new KeyCheck(KeyVerdict.Tenant, tenant);
        throttle.RecordFailure(client, hash);
        return new KeyCheck(KeyVerdict.Unknown, Reason: "unknown, revoked or disabled key");
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
