using System.Runtime.CompilerServices;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Extensions.Options;
using OmniGateway.Auth;
using OmniGateway.Errors;
using OmniGateway.RateLimiting;
using OmniGateway.Tenants;
using OmniGateway.Upstream;
using OmniGateway.Usage;
using OmniGateway.Validation;

namespace OmniGateway.Proxy;

public static class ResponsesApi
{
    public static IEndpointRouteBuilder MapResponsesApi(this IEndpointRouteBuilder app)
    {
        // Its services come from the root provider once, here, not per call: a parameter the framework resolves
        // makes a DI scope per request (~120 B) and puts every argument into the filters' invocation context
        // (issue 11, allocated per stream). All of them are singletons.
        var services = new Steps(app.ServiceProvider);
        app.MapPost("/v1/responses", (HttpContext context) => HandleAsync(context, services))
            .RequireTenantKey() // first: before admission counts the call or the body is read
            .RequireTenantLimits()
            .WithName("CreateResponse")
            .WithTags("Responses")
            .WithSummary("Generate a text (and speech) answer, streamed as Server-Sent Events")
            .WithDescription("The upstream's Responses request. With \"stream\": true the answer is the upstream's SSE stream, relayed event by event; " +
                             "without it, one JSON Response object. Unknown voices, bad media and other requests the upstream would fail on are refused with 400 before any upstream call.")
            .Accepts<ResponsesRequestDocument>("application/json")
            // The errors come from the handler's type (GatewayErrorResult). One 200 with both bodies (two Produces for one
    // status would keep only the last); the SSE schema is set in OpenApiFilters.
            .Produces<ResponseDocument>(StatusCodes.Status200OK, "text/event-stream", "application/json");
        return app;
    }

    // Steps as in shared/STYLE.md: 1 auth (the key filter above), 2 limits, 3 capped body, 4 validate + enrich, 5–7 forward, relay, account.
    private static ValueTask<Results<EmptyHttpResult, GatewayErrorResult>> HandleAsync(HttpContext context, Steps services)
    {
        var tenant = context.GetTenant();
        var gateway = services.Options.Value;
        var bodyBudget = services.BufferBudget.ForTenant(tenant.TenantId); // the tenant's share, looked up once per call
        // A large body goes upstream as it arrives (issue 11, target 5); any other is read whole, in one state machine
        // per call: a second one awaiting it cost 0.14 KiB more allocated per stream (9.01 against 8.87, h2load).
        return StreamedRequestBody.For(context.Request, gateway.StreamRequestBodiesFromBytes, gateway.MaxRequestBodyBytes, bodyBudget) is { } streamed
            ? HandleStreamedAsync(context, tenant, services, bodyBudget, streamed)
            : ReadValidateAdmitAndForwardAsync(context, tenant, services, bodyBudget, streamed: null, started: null);
    }

    /// <summary>
    /// A large body: its first try starts now and sends the body as it arrives; it is completed only once accepted and
    /// forwarded, and any other end leaves the upstream a body without its end.
    /// </summary>
    private static async ValueTask<Results<EmptyHttpResult, GatewayErrorResult>> HandleStreamedAsync(HttpContext context, TenantContext tenant, Steps services,
        RequestBufferBudget bodyBudget, StreamedRequestBody streamed)
    {
        using (streamed)
        {
            var started = new UpstreamCall(context.TraceIdentifier, ReadOnlyMemory<byte>.Empty) { Streamed = streamed };
            services.Upstream.StartFirstTry(started);
            try
            {
                return await ReadValidateAdmitAndForwardAsync(context, tenant, services, bodyBudget, streamed, started);
            }
            finally
            {
                started.AbandonFirstTry(); // no effect once the retry loop adopted it
            }
        }
    }

    // Pooled state machine (awaited once by the endpoint's delegate): one object less per call (issue 11).
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    private static async ValueTask<Results<EmptyHttpResult, GatewayErrorResult>> ReadValidateAdmitAndForwardAsync(HttpContext context, TenantContext tenant,
        Steps services, RequestBufferBudget bodyBudget, StreamedRequestBody? streamed, UpstreamCall? started)
    {
        var (validator, forwarder, options, admission, costBudgets, admissionMetrics, _, _, time) = services;
        var limits = options.Value;
        if ((await RequestBodyReader.ReadAsync(context.Request, limits.MaxRequestBodyBytes, bodyBudget, limits.RequestBodyTimeout, time, streamed))
            .Refused(out var body, out var readError))
            return readError.ToResult();

        Refusable<ValidatedRequest> validated;
        using (body)
        {
            validated = validator.Validate(body.Memory, tenant, context.Request.Headers[RecordTags.Header].ToString(), streamed?.Members);
        }
        if (validated.Refused(out var request, out var invalid)) return invalid.ToResult();
        using var upstreamBody = request.BodyBuffer; // back to the pool once the call has ended (and no try still sends it)

        // 2. Token budgets and tokens per minute, from the validated body and before any upstream call
        //    (requests per minute and open streams were checked by the route's admission filter before the body was read).
        //    The reservations are released when the call ends, after its record is stored.
        using var admitted = await admission.AdmitTokensAsync(tenant, request, context.TraceIdentifier);
        if (admitted.Rejection is { } refused) return refused.ToResult();

        // 2b. Cost budgets (Limits:DailyCost / MonthlyCost): the call's worst-case cost at the price in force now,
        //     reserved (and its output cap lowered to fit) after the token budgets; released with them.
        using var costAdmitted = costBudgets.Admit(tenant, admitted.Request);
        if (costAdmitted.Rejection is { } overCost)
        {
            admissionMetrics.Refused(CostBudgets.RefusedLimit);
            return overCost.ToResult();
        }

        // A streamed body is completed with the rest written by step 4 (its output cap as admission left it), once the
        // forwarder's retry loop waits for the answer; one the scan could not follow to a member boundary is sent whole
        // by a try of its own instead.
        if (request.UpstreamBodyIsRest)
        {
            streamed!.Accept(request.BodyBuffer!);
        }
        else
        {
            started?.AbandonFirstTry();
            started = null;
        }
        await forwarder.ForwardAsync(context, tenant, costAdmitted.Request!, started); // set unless refused
        return TypedResults.Empty; // the forwarder has answered: a stream, one JSON object, or an error
    }

    /// <summary>The singletons the steps use, resolved once when the endpoint is mapped.</summary>
    private sealed record Steps(RequestValidator Validator, ResponsesForwarder Forwarder, IOptions<GatewayOptions> Options, TenantAdmission Admission,
        CostBudgets CostBudgets, AdmissionMetrics AdmissionMetrics, RequestBufferBudget BufferBudget, UpstreamClient Upstream, TimeProvider Time)
    {
        public Steps(IServiceProvider services) : this(services.GetRequiredService<RequestValidator>(), services.GetRequiredService<ResponsesForwarder>(),
            services.GetRequiredService<IOptions<GatewayOptions>>(), services.GetRequiredService<TenantAdmission>(), services.GetRequiredService<CostBudgets>(),
            services.GetRequiredService<AdmissionMetrics>(), services.GetRequiredService<RequestBufferBudget>(), services.GetRequiredService<UpstreamClient>(),
            services.GetRequiredService<TimeProvider>())
        {
        }
    }
}
