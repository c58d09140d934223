using System.Runtime.CompilerServices;
using OmniGateway.Errors;

namespace OmniGateway.Auth;

/// <summary>Marks an endpoint whose key is checked by <see cref="TenantKeyFilter"/> rather than by the authentication and authorization middleware.</summary>
public sealed class TenantKeyRequired
{
    public static readonly TenantKeyRequired Instance = new();

    private TenantKeyRequired()
    {
    }
}

/// <summary>
/// The model endpoint's key check: a tenant key goes on, anything else gets the answer the tenant policy would give
/// (401 without a key or with a wrong one, 429 for an address that guessed too often, 403 for the admin key).
/// </summary>
/// <remarks>
/// Why not <c>RequireAuthorization</c> (issue 11): on the one endpoint every stream takes, the authentication and
/// authorization middleware cost ~20 µs and ~3 KiB per call — a scheme lookup, a handler made per request, a
/// principal with claims, a policy evaluated — to reach the verdict <see cref="TenantKeys"/> reaches alone.
/// The verdict is the same one: the same checker, the same throttle, the same errors, and it is kept on the
/// request for the CORS check, which asks first.
/// </remarks>
public static class TenantKeyFilter
{
    public static TBuilder RequireTenantKey<TBuilder>(this TBuilder builder) where TBuilder : IEndpointConventionBuilder
    {
        builder.WithMetadata(TenantKeyRequired.Instance);
        // The checker from the root provider, once: RequestServices would make a DI scope per request (issue 11).
        return builder.AddEndpointFilterFactory((factory, next) =>
        {
            var keys = factory.ApplicationServices.GetRequiredService<TenantKeys>();
            return [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))] async ValueTask<object?> (invocation) =>
            {
                var context = invocation.HttpContext;
                var check = await keys.CheckAsync(context);
                return check.Verdict == KeyVerdict.Tenant ? await next(invocation) : Refusal(context, check).ToResult();
            };
        });
    }

    /// <summary>The error for a verdict that is not a tenant's; its reason (never the key) goes to the refusal line.</summary>
    public static GatewayError Refusal(HttpContext context, KeyCheck check)
    {
        if (check.Reason is { } reason) context.Items[RefusalLog.ReasonItem] = reason;
        return check.Verdict switch
        {
            KeyVerdict.Throttled => GatewayErrors.RateLimited("too_many_failed_keys",
                "Too many requests with invalid API keys came from your address. Wait for Retry-After, then send a valid tenant key.", check.RetryAfterSeconds),
            KeyVerdict.NoKey => GatewayErrors.MissingKey(),
            KeyVerdict.Admin => AdminOnModelApi(),
            _ => GatewayErrors.InvalidKey(),
        };
    }

    public static GatewayError AdminOnModelApi() => GatewayErrors.Forbidden("The admin key cannot call the model API; use a tenant key.");
}
