using System.Diagnostics;
using System.Runtime.InteropServices;
using Microsoft.Extensions.Options;
using OmniGateway.Errors;
using OmniGateway.Observability;
using OmniGateway.Tenants;
using OmniGateway.Usage;
using OmniGateway.Validation;
using Yarp.ReverseProxy.Forwarder;

namespace OmniGateway.Proxy;

/// <summary>Steps 5–7 for one validated request: forward through YARP, relay or aggregate, account.</summary>
public sealed partial class ResponsesForwarder(
    IHttpForwarder forwarder,
    UpstreamClient upstream,
    IOptions<UpstreamOptions> options,
    IOptions<UsageOptions> usageOptions,
    UsageRecorder recorder,
    TimeProvider time,
    GatewayMetrics metrics,
    ILogger<ResponsesForwarder> logger)
{
    public async Task ForwardAsync(HttpContext context, TenantContext tenant, ValidatedRequest request)
    {
        var settings = options.Value;
        var session = new RelaySession(context.TraceIdentifier, tenant, request, time, recorder, metrics);
        var aggregator = request.ClientWantsStream ? null : new AggregatingTarget(context, upstream.Keys);
        var target = aggregator ?? (RelayTarget)new ClientStreamTarget(context);

        // YARP forwards HttpContext.Request, so the enriched body replaces the caller's.
        // The validator writes into an ArrayBufferWriter, so the body is always array-backed: no copy here.
        if (!MemoryMarshal.TryGetArray(request.UpstreamBody, out var body)) throw new UnreachableException("The enriched body is not array-backed.");
        context.Request.Body = new MemoryStream(body.Array!, body.Offset, body.Count, writable: false); // TryGetArray succeeded: Array is set
        context.Request.ContentLength = request.UpstreamBody.Length;

        var usage = usageOptions.Value;
        using var deadline = new UpstreamDeadline(settings, time, usage.OnClientAbort == ClientAbortPolicy.Drain, usage.DrainTimeout);
        var transformer = new ResponsesTransformer(upstream, session, target, deadline);
        var config = new ForwarderRequestConfig { ActivityTimeout = settings.MaxStreamDuration };

        var error = await forwarder.SendAsync(context, upstream.DestinationPrefix, upstream.Invoker, config, transformer, deadline.TimerToken);

        if (error != ForwarderError.None && !session.Recorded)
        {
            var exception = context.Features.Get<IForwarderErrorFeature>()?.Exception;
            Log.ForwardFailed(logger, error, exception?.GetType().Name, session.RequestId);
            if (context.RequestAborted.IsCancellationRequested)
            {
                await session.RecordAsync(UsageOutcome.ClientAborted);
                return;
            }
            await session.RecordAsync(UsageOutcome.UpstreamError);
            await target.FailAsync(deadline.Expired
                ? GatewayErrors.UpstreamTimeout("The upstream did not answer within the first-byte timeout.")
                : GatewayErrors.UpstreamFailure("The gateway could not reach the upstream. Retry shortly; if it persists, tell the gateway's operator."));
            return;
        }
        if (!session.Recorded) await session.RecordAsync(UsageOutcome.Interrupted);

        if (aggregator is not null) await aggregator.CompleteAsync(context.RequestAborted);
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 5000, Level = LogLevel.Warning, Message = "Forwarding {RequestId} failed: {ForwarderError} ({ExceptionType})")]
        public static partial void ForwardFailed(ILogger logger, ForwarderError forwarderError, string? exceptionType, string requestId);
    }
}
