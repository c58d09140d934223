using System.Runtime.CompilerServices;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.Options;
using OmniGateway.Errors;
using OmniGateway.Observability;
using OmniGateway.Shutdown;
using OmniGateway.Tenants;
using OmniGateway.Upstream;
using OmniGateway.Usage;
using OmniGateway.Validation;
using Yarp.ReverseProxy.Forwarder;

namespace OmniGateway.Proxy;

/// <summary>
/// Steps 5–7 for one validated request: forward through YARP and relay or aggregate (which returns
/// what happened), then account (one record), then tell the client — in that order, so every error
/// answer is sent only after its record is stored.
/// </summary>
public sealed partial class ResponsesForwarder(
    IHttpForwarder forwarder,
    UpstreamClient upstream,
    IOptions<UpstreamOptions> options,
    IOptions<UsageOptions> usageOptions,
    UsageRecorder recorder,
    Usage.Pricing.PriceTable prices,
    GracefulShutdown shutdown,
    TimeProvider time,
    GatewayMetrics metrics,
    ILogger<ResponsesForwarder> logger)
{
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))] // awaited once, by the endpoint; the box is reused by the next call
    /// <param name="started">The call's upstream side when its first try is already sending the body (a streamed body).</param>
    public async ValueTask ForwardAsync(HttpContext context, TenantContext tenant, ValidatedRequest request, UpstreamCall? started = null)
    {
        var account = new CallAccount(context.TraceIdentifier, tenant, request, time, recorder, prices, metrics, started);
        var aggregator = request.ClientWantsStream ? null : new AggregatingTarget(context, upstream.Keys);
        var target = aggregator ?? (RelayTarget)new ClientStreamTarget(context, upstream.Keys);

        // The retry handler sends the enriched body (UpstreamCall.Body) as every try's content, so YARP is told the
        // caller's request has none: it then makes no content, copy task or stream of its own that the first try
        // would throw away (issue 11). The caller's body was read to its end by step 3.
        context.Features.Set<IHttpRequestBodyDetectionFeature>(NoRequestBody.Instance);

        using var deadline = new UpstreamDeadline(options.Value, usageOptions.Value, time, shutdown.StreamsMustEnd);
        var transformer = new ResponsesTransformer(upstream, account, target, deadline, time, metrics);
        var config = new ForwarderRequestConfig { ActivityTimeout = options.Value.MaxStreamDuration };

        RelayResult? result = null;
        try
        {
            var error = await forwarder.SendAsync(context, upstream.DestinationPrefix, upstream.Invoker, config, transformer, deadline.ReadToken);
            result = transformer.Result ?? Unanswered(context, error, deadline, account.RequestId);
        }
        finally
        {
            // An exception that escaped (a bug, not a failure mode) still leaves the call's one record.
            result ??= transformer.Result ?? new RelayResult(RelayEnd.Broken, null, 0, null);
            await account.RecordUnlessHandedOverAsync(result.Value); // the client is then told what it would have been told
        }

        await TellClientAsync(target, result.Value, transformer.Refusal, context.RequestAborted);
        if (aggregator is not null) await aggregator.CompleteAsync(context.RequestAborted);
    }

    private sealed class NoRequestBody : IHttpRequestBodyDetectionFeature
    {
        public static readonly NoRequestBody Instance = new();
        public bool CanHaveBody => false;
    }

    private RelayResult Unanswered(HttpContext context, ForwarderError error, UpstreamDeadline deadline, string requestId)
    {
        var exception = context.Features.Get<IForwarderErrorFeature>()?.Exception;
        Log.ForwardFailed(logger, error, exception?.GetType().Name, requestId);
        var end = context.RequestAborted.IsCancellationRequested ? RelayEnd.ClientGone
            : deadline.Expired ? RelayEnd.TimedOut
            : deadline.ShuttingDown ? RelayEnd.ShuttingDown
            : RelayEnd.Unreachable;
        return new RelayResult(end, null, 0, null, exception);
    }


    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    private static async ValueTask TellClientAsync(RelayTarget target, RelayResult result, GatewayError? refusal, CancellationToken clientGone)
    {
        switch (result.End)
        {
            case RelayEnd.TerminalNotRecorded:
                // A completion that cannot be accounted is not relayed: the client is told in-band instead.
                await target.EndWithErrorAsync("The gateway could not record this response's usage, so it withholds the completion. Retry the request; if it persists, tell the gateway's operator.",
                    clientGone, RelayTarget.UsageNotRecorded);
                break;
            case RelayEnd.Empty:
                // Contract 3.6: the upstream's silent failure (an empty 200) must not become ours.
                await target.FailAsync(GatewayErrors.UpstreamEmptyResponse());
                break;
            case RelayEnd.ClosedEarly:
                await target.EndWithErrorAsync("The upstream closed the stream before the response was complete. Retry the request.", clientGone);
                break;
            case RelayEnd.Broken when result.Started:
                await target.EndWithErrorAsync("The upstream connection broke mid-stream; the answer is incomplete. Retry the request.", clientGone);
                break;
            case RelayEnd.Broken or RelayEnd.Unreachable:
                await target.FailAsync(GatewayErrors.UpstreamFailure(result.End == RelayEnd.Broken
                    ? "The upstream connection broke before the first event."
                    : "The gateway could not reach the upstream. Retry shortly; if it persists, tell the gateway's operator."));
                break;
            case RelayEnd.TimedOut when result.Started:
                await target.EndWithErrorAsync("The upstream went silent for longer than the idle timeout; the answer is incomplete.", clientGone);
                break;
            case RelayEnd.TimedOut:
                await target.FailAsync(GatewayErrors.UpstreamTimeout("The upstream sent no event before the first-byte timeout."));
                break;
            case RelayEnd.ShuttingDown when result.Started:
                await target.EndWithErrorAsync("The gateway is shutting down (a deploy or restart) and ended this response before it was complete. Retry the request.",
                    clientGone, RelayTarget.ShuttingDown);
                break;
            case RelayEnd.ShuttingDown:
                await target.FailAsync(GatewayErrors.GatewayShuttingDown());
                break;
            case RelayEnd.Refused:
                await target.FailAsync(refusal ?? GatewayErrors.UpstreamFailure("The upstream refused the request."));
                break;
            // Relayed, EndedAfterDone: the client has the whole answer. ClientGone: nobody to tell.
        }
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 5000, Level = LogLevel.Warning, Message = "Forwarding {RequestId} failed: {ForwarderError} ({ExceptionType})")]
        public static partial void ForwardFailed(ILogger logger, ForwarderError forwarderError, string? exceptionType, string requestId);
    }
}
