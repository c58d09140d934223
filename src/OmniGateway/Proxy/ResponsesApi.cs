using Microsoft.Extensions.Options;
using OmniGateway.Auth;
using OmniGateway.Errors;
using OmniGateway.RateLimiting;
using OmniGateway.Tenants;
using OmniGateway.Usage;
using OmniGateway.Validation;

namespace OmniGateway.Proxy;

public static class ResponsesApi
{
    public static IEndpointRouteBuilder MapResponsesApi(this IEndpointRouteBuilder app)
    {
        app.MapPost("/v1/responses", HandleAsync)
            .RequireAuthorization(AuthExtensions.TenantPolicy)
            .RequireTenantLimits()
            .WithName("CreateResponse")
            .WithTags("Responses")
            .WithSummary("Generate a text (and speech) answer, streamed as Server-Sent Events")
            .WithDescription("The upstream's Responses request. With \"stream\": true the answer is the upstream's SSE stream, relayed event by event; " +
                             "without it, one JSON Response object. Unknown voices, bad media and other requests the upstream would fail on are refused with 400 before any upstream call.")
            .Accepts<ResponsesRequestDocument>("application/json")
            // One 200 with both bodies (two Produces for one status would keep only the last); the SSE schema is set in OpenApiFilters.
            .Produces<ResponseDocument>(StatusCodes.Status200OK, "text/event-stream", "application/json")
            .Produces<ErrorDocument>(StatusCodes.Status400BadRequest, "application/json")
            .Produces<ErrorDocument>(StatusCodes.Status401Unauthorized, "application/json")
            .Produces<ErrorDocument>(StatusCodes.Status413PayloadTooLarge, "application/json")
            .Produces<ErrorDocument>(StatusCodes.Status429TooManyRequests, "application/json")
            .Produces<ErrorDocument>(StatusCodes.Status502BadGateway, "application/json")
            .Produces<ErrorDocument>(StatusCodes.Status504GatewayTimeout, "application/json");
        return app;
    }

    // Steps as in shared/STYLE.md: 1 auth (policy above), 2 limits, 3 capped body, 4 validate + enrich, 5–7 forward, relay, account.
    private static async Task HandleAsync(HttpContext context, RequestValidator validator, ResponsesForwarder forwarder, IOptions<GatewayOptions> options,
        TenantAdmission admission)
    {
        var tenant = context.GetTenant();

        var (body, readError) = await RequestBodyReader.ReadAsync(context.Request, options.Value.MaxRequestBodyBytes);
        if (readError is not null) { await readError.WriteAsync(context); return; }

        ValidationOutcome outcome;
        using (body!.Value)
        {
            outcome = validator.Validate(body.Value.Memory, tenant, context.Request.Headers[RecordTags.Header].ToString());
        }
        if (outcome.Error is { } error) { await error.WriteAsync(context); return; }

        // 2. Token budgets and tokens per minute, from the validated body and before any upstream call
        //    (requests per minute and open streams were checked by the route's admission filter before the body was read).
        //    The reservations are released when the call ends, after its record is stored.
        using var admitted = await admission.AdmitTokensAsync(tenant, outcome.Request!, context.TraceIdentifier); // one of Request/Error is always set
        if (admitted.Rejection is { } refused) { await refused.WriteAsync(context); return; }

        await forwarder.ForwardAsync(context, tenant, admitted.Request);
    }
}
