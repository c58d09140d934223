using System.Diagnostics;
using Microsoft.AspNetCore.Http.Features;
using OmniGateway.Tenants;
using Serilog.Events;

namespace OmniGateway.Observability;

/// <summary>
/// One access-log line per request, written when it ends (for a stream: when the stream ends): method, path
/// (never the query), status, duration, request id, trace id and the tenant once authentication named one.
/// Outermost in the pipeline, so the status is the one the client got and the duration covers every stage.
/// </summary>
public sealed class AccessLogMiddleware(RequestDelegate next, Serilog.ILogger logger, TimeProvider time, CallLogSinks sinks)
{
    /// <summary>The access line: its event and template (bench/'s LogLineBenchmarks formats lines of it).</summary>
    internal static readonly EventId AccessLogEvent = new(200, "AccessLog");
    internal const string Template = "{Method} {Path} {StatusCode} in {DurationMs:0.0} ms request {RequestId} trace {TraceId} tenant {TenantId} client aborted {ClientAborted}";

    // Once per request: written straight to Serilog (CallLogLine says why), fields as [LoggerMessage] wrote them.
    private readonly CallLogLine _line = new(logger, typeof(AccessLogMiddleware).FullName!, AccessLogEvent, Template, sinks);

    // Probes and scrapes arrive every few seconds from the orchestrator: at Debug, not between the calls.
    private static readonly PathString[] QuietPaths = ["/healthz", "/readyz", "/metrics"];

    private static readonly HashSet<string> StandardMethods = new(
        [HttpMethods.Get, HttpMethods.Post, HttpMethods.Put, HttpMethods.Delete, HttpMethods.Patch, HttpMethods.Head, HttpMethods.Options], StringComparer.Ordinal);

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
        var level = QuietPaths.Contains(request.Path) && context.Response.StatusCode < 500 ? LogEventLevel.Debug : LogEventLevel.Information;
        if (!_line.IsEnabled(level)) return;
        var activity = context.Features.Get<IHttpActivityFeature>()?.Activity ?? Activity.Current;
        var traceId = activity is null ? "" : activity.TraceId.ToHexString();
        var tenant = context.Features.Get<TenantContext>()?.TenantId ?? "-";
        var properties = _line.NewProperties();
        // A standard method is one of Kestrel's constants; one a caller makes up is its own string, not kept.
        properties["Method"] = StandardMethods.Contains(request.Method) ? CallLogLine.Known(HttpMethods.GetCanonicalizedValue(request.Method)) : CallLogLine.Scalar(request.Method);
        properties["Path"] = CallLogLine.Scalar(request.Path.Value ?? "/");
        properties["StatusCode"] = CallLogLine.Status(context.Response.StatusCode);
        properties["DurationMs"] = CallLogLine.Scalar(elapsed.TotalMilliseconds);
        properties["RequestId"] = CallLogLine.Scalar(context.TraceIdentifier);
        properties["TraceId"] = CallLogLine.Scalar(traceId);
        properties["TenantId"] = CallLogLine.Known(tenant);
        properties["ClientAborted"] = CallLogLine.Scalar(context.RequestAborted.IsCancellationRequested);
        _line.Write(level, properties);
    }
}
