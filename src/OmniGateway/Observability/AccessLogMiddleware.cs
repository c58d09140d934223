using System.Diagnostics;
using Microsoft.AspNetCore.Http.Features;
using OmniGateway.Tenants;

namespace OmniGateway.Observability;

/// <summary>
/// One access-log line per request, written when it ends (for a stream: when the stream ends): method, path
/// (never the query), status, duration, request id, trace id and the tenant once authentication named one.
/// Outermost in the pipeline, so the status is the one the client got and the duration covers every stage.
/// </summary>
public sealed partial class AccessLogMiddleware(RequestDelegate next, ILogger<AccessLogMiddleware> logger, TimeProvider time)
{
    // Probes and scrapes arrive every few seconds from the orchestrator: at Debug, not between the calls.
    private static readonly PathString[] QuietPaths = ["/healthz", "/readyz", "/metrics"];

    public async Task InvokeAsync(HttpContext context)
    {
        var started = time.GetTimestamp();
        try
        {
            await next(context);
        }
        finally
        {
            Write(context, time.GetElapsedTime(started));
        }
    }

    private void Write(HttpContext context, TimeSpan elapsed)
    {
        var request = context.Request;
        var level = QuietPaths.Contains(request.Path) && context.Response.StatusCode < 500 ? LogLevel.Debug : LogLevel.Information;
        if (!logger.IsEnabled(level)) return;
        var activity = context.Features.Get<IHttpActivityFeature>()?.Activity ?? Activity.Current;
        var traceId = activity is null ? "" : activity.TraceId.ToHexString();
        var tenant = context.Features.Get<TenantContext>()?.TenantId ?? "-";
        Log.Request(logger, level, request.Method, request.Path.Value ?? "/", context.Response.StatusCode, elapsed.TotalMilliseconds,
            context.TraceIdentifier, traceId, tenant, context.RequestAborted.IsCancellationRequested);
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 200, EventName = "AccessLog",
            Message = "{Method} {Path} {StatusCode} in {DurationMs:0.0} ms request {RequestId} trace {TraceId} tenant {TenantId} client aborted {ClientAborted}")]
        public static partial void Request(ILogger logger, LogLevel level, string method, string path, int statusCode, double durationMs,
            string requestId, string traceId, string tenantId, bool clientAborted);
    }
}
