using OpenTelemetry;
using OpenTelemetry.Metrics;
using OpenTelemetry.Resources;
using OpenTelemetry.Trace;

namespace OmniGateway.Observability;

/// <summary>
/// OpenTelemetry: metrics always (Prometheus at <c>/metrics</c>); traces and OTLP export when the standard
/// <c>OTEL_EXPORTER_OTLP_ENDPOINT</c> is set. The exporter itself reads <c>OTEL_EXPORTER_OTLP_PROTOCOL</c>
/// (<c>grpc</c> or <c>http/protobuf</c>), <c>OTEL_EXPORTER_OTLP_HEADERS</c> and the batch settings.
/// </summary>
public static class TelemetryExtensions
{
    public const string OtlpEndpointKey = "OTEL_EXPORTER_OTLP_ENDPOINT";

    // Probes and scrapes every few seconds would drown the calls in spans.
    private static readonly PathString[] UntracedPaths = ["/healthz", "/readyz", "/metrics"];

    /// <summary>Traces (and OTLP metrics) are exported only to a configured OTLP endpoint.</summary>
    public static bool TracesExported(IConfiguration configuration) => !string.IsNullOrWhiteSpace(configuration[OtlpEndpointKey]);

    public static IHostApplicationBuilder AddGatewayTelemetry(this IHostApplicationBuilder builder)
    {
        // With nowhere to send spans, recording them would only cost CPU on every stream; log lines still carry
        // the trace id of the request's activity, which ASP.NET Core starts either way.
        var otlp = TracesExported(builder.Configuration);
        builder.Services.AddSingleton<GatewayMetrics>();
        var telemetry = builder.Services.AddOpenTelemetry()
            .ConfigureResource(resource => resource.AddService(
                serviceName: builder.Configuration["OTEL_SERVICE_NAME"] is { Length: > 0 } name ? name : "omnigateway",
                serviceVersion: typeof(TelemetryExtensions).Assembly.GetName().Version?.ToString()))
            .WithMetrics(metrics =>
            {
                metrics.AddMeter(GatewayMetrics.MeterName)
                    // The runtime's own meter: GC heap, working set, thread pool — how operators (and bench/) see a leak.
                    .AddMeter("System.Runtime")
                    // ASP.NET Core's own meters: http.server.* (request duration, active requests), kestrel.* (connections),
                    // aspnetcore.diagnostics.exceptions. Named here rather than through AddAspNetCoreInstrumentation
                    // (issue 11): that also listens to routing's, authentication's and authorization's per-request
                    // counters and wraps every request in a middleware that tags exceptions our error handler has
                    // already answered — an async state machine and ~5 µs per stream for nothing an operator reads.
                    .AddMeter("Microsoft.AspNetCore.Hosting", "Microsoft.AspNetCore.Server.Kestrel", "Microsoft.AspNetCore.Diagnostics")
                    .AddPrometheusExporter();
                if (otlp) metrics.AddOtlpExporter();
            });
        if (otlp)
        {
            // W3C trace context alone (no baggage): the HttpClient instrumentation then leaves outgoing headers to the
            // handler's own propagator, which sends nothing — the third-party upstream gets only the allow-listed headers.
            Sdk.SetDefaultTextMapPropagator(new OpenTelemetry.Context.Propagation.TraceContextPropagator());
            telemetry.WithTracing(tracing => tracing
                .AddAspNetCoreInstrumentation(options => options.Filter = context => !UntracedPaths.Contains(context.Request.Path))
                // The upstream call: YARP's invoker wraps a SocketsHttpHandler, whose diagnostics handler this sees.
                // Its URL carries no key (the key travels in a header, which is not recorded).
                .AddHttpClientInstrumentation()
                .AddOtlpExporter());
        }
        return builder;
    }
}
