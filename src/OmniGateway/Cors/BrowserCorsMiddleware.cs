using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Cors.Infrastructure;
using Microsoft.Extensions.Primitives;
using Microsoft.Net.Http.Headers;
using OmniGateway.Auth;
using OmniGateway.Errors;
using OmniGateway.Observability;
using OmniGateway.Tenants;

namespace OmniGateway.Cors;

/// <summary>
/// Answers preflights for allowed origins only (others get a 403 error object and no CORS headers, so the
/// browser refuses), adds the CORS headers to real answers — streams and errors alike, in OnStarting so an
/// error path that clears the response keeps them — and refuses a keyed request whose origin its tenant
/// does not allow before anything runs or is billed. The framework's <see cref="ICorsService"/> does the
/// header work; this class only decides which origin is allowed.
/// </summary>
public sealed class BrowserCorsMiddleware(RequestDelegate next, AllowedOrigins allowed, ICorsService cors, Microsoft.Extensions.Options.IOptions<BrowserCorsOptions> options)
{
    private static readonly string[] RequestHeaders = ["authorization", "content-type", "x-api-key", "x-request-id", "accept"];
    private static readonly string[] ExposedHeaders = [RequestIdMiddleware.Header, HeaderNames.RetryAfter, "x-omnigateway-upstream"];

    public Task InvokeAsync(HttpContext context)
    {
        var request = context.Request;
        // No Origin (SDKs, servers: most calls) goes straight on, without a state machine or closure of this class's.
        if (!request.Headers.TryGetValue(HeaderNames.Origin, out var originHeader) || IsSameOrigin(request, originHeader.ToString()))
            return next(context);
        return CrossOriginAsync(context, originHeader);
    }

    private async Task CrossOriginAsync(HttpContext context, StringValues originHeader)
    {
        var request = context.Request;
        // The answer depends on the origin, even when it names one origin only (the framework adds Vary for lists alone).
        context.Response.OnStarting(static state =>
        {
            ((HttpResponse)state).Headers.Append(HeaderNames.Vary, HeaderNames.Origin);
            return Task.CompletedTask;
        }, context.Response);
        var origin = Origins.Normalize(originHeader.ToString());
        var allowedSomewhere = origin is not null && await allowed.IsAllowedForAnyoneAsync(origin, context.RequestAborted);
        var preflight = HttpMethods.IsOptions(request.Method) && request.Headers.ContainsKey(HeaderNames.AccessControlRequestMethod);
        if (preflight)
        {
            if (!allowedSomewhere)
            {
                await OriginNotAllowed(originHeader.ToString(), null).WriteAsync(context);
                return;
            }
            cors.ApplyResult(cors.EvaluatePolicy(context, PolicyFor(origin!)), context.Response);
            context.Response.StatusCode = StatusCodes.Status204NoContent;
            return;
        }

        if (allowedSomewhere)
        {
            var result = cors.EvaluatePolicy(context, PolicyFor(origin!));
            context.Response.OnStarting(() =>
            {
                cors.ApplyResult(result, context.Response);
                return Task.CompletedTask;
            });
        }

        // The same cached authentication UseAuthentication uses later; an unknown or missing key is left to the endpoint's 401.
        var authenticated = await context.AuthenticateAsync();
        if (authenticated.Succeeded)
        {
            var tenant = context.Features.Get<TenantContext>();
            if (origin is null || !allowed.IsAllowedFor(tenant, origin))
            {
                await OriginNotAllowed(originHeader.ToString(), tenant?.TenantId ?? "admin").WriteAsync(context);
                return;
            }
        }
        await next(context);
    }

    private CorsPolicy PolicyFor(string origin)
    {
        var policy = new CorsPolicyBuilder()
            .WithOrigins(origin)
            .WithMethods(HttpMethods.Get, HttpMethods.Post)
            .WithHeaders(RequestHeaders)
            .WithExposedHeaders(ExposedHeaders)
            .SetPreflightMaxAge(options.Value.PreflightMaxAge);
        return policy.Build();
    }

    /// <summary>The page the gateway serves itself (the playground): the browser says so in Sec-Fetch-Site, which pages cannot set.</summary>
    private static bool IsSameOrigin(HttpRequest request, string origin) =>
        string.Equals(request.Headers["Sec-Fetch-Site"], "same-origin", StringComparison.Ordinal)
        || string.Equals(origin, $"{request.Scheme}://{request.Host}", StringComparison.OrdinalIgnoreCase);

    private static GatewayError OriginNotAllowed(string origin, string? tenant) => GatewayErrors.OriginNotAllowed(GatewayErrors.Truncate(origin), tenant);
}
