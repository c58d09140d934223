using System.Text.Json;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using OpenTelemetry.Metrics;
using OmniGateway.Management;
using Serilog;
using ILogger = Microsoft.Extensions.Logging.ILogger;

namespace OmniGateway.Observability;

public static class ObservabilityExtensions
{
    /// <summary>Log events queued for the console writer before callers wait: seconds of a busy gateway's lines.</summary>
    private const int LogBufferSize = 10_000;

    /// <summary>Above Fatal: a source at this level writes nothing (Serilog has no named "off").</summary>
    private const Serilog.Events.LogEventLevel Off = (Serilog.Events.LogEventLevel)(1 + (int)Serilog.Events.LogEventLevel.Fatal);

    // Serilog's default text line plus the request's trace id (empty outside a request); JSON carries it as @tr.
    private const string TextTemplate = "[{Timestamp:HH:mm:ss} {Level:u3}] {Message:lj} {TraceId}{NewLine}{Exception}";

    /// <summary>Serilog, OpenTelemetry (Prometheus at /metrics; OTLP traces and metrics when configured) and health checks.</summary>
    public static IHostApplicationBuilder AddObservability(this IHostApplicationBuilder builder)
    {
        // Serilog from configuration (Serilog:MinimumLevel…); one compact JSON object per line unless Logging:Format=Text.
        var json = !string.Equals(builder.Configuration["Logging:Format"], "Text", StringComparison.OrdinalIgnoreCase);
        // Serilog is the one console writer; other ILoggerProviders (tests' capture, say) still receive every event.
        // preserveStaticLogger: each host keeps its own logger; the static Log.Logger would be shared by test hosts.
        builder.Logging.ClearProviders();
        builder.Services.AddSerilog(preserveStaticLogger: true, configureLogger: (services, logger) =>
        {
            // writeToProviders, but only when there is a provider to write to: Serilog's sink for them copies
            // every event's properties for the providers even when there are none (issue 11: allocated per stream).
            if (services.GetServices<ILoggerProvider>().ToArray() is { Length: > 0 } providers)
            {
                var collection = new Serilog.Extensions.Logging.LoggerProviderCollection();
                foreach (var provider in providers) collection.AddProvider(provider);
                logger.WriteTo.Providers(collection);
            }
            logger.ReadFrom.Configuration(builder.Configuration)
                .ReadFrom.Services(services)
                .Enrich.FromLogContext()
                .MinimumLevel.Override("Microsoft.AspNetCore", Serilog.Events.LogEventLevel.Warning)
                .MinimumLevel.Override("Yarp", Serilog.Events.LogEventLevel.Warning)
                // Off, not Warning: while any level is on, hosting opens a log scope per request (RequestId,
                // RequestPath) and every line of the request is enriched from it — ~0.8 KiB per stream for what the
                // lines already carry (issue 11). It writes nothing above Information; RequestActivity keeps the
                // request's activity, and so the lines' trace id. Kestrel's per-connection scope (ConnectionId) stays.
                .MinimumLevel.Override(RequestActivity.HostingLoggerCategory, Off)
                // Data protection is unused (no cookies); its key-storage warning would only alarm operators.
                .MinimumLevel.Override("Microsoft.AspNetCore.DataProtection", Serilog.Events.LogEventLevel.Error);
            // Off the request's thread: a stream's completion waits for its UsageRecorded line to be handed over,
            // not for the console write. Under a flood the callers wait rather than lines vanish.
            // Compact JSON with the template (@mt) and its properties: rendering the message on every call was
            // the formatter's main cost, and every CLEF reader (Seq, jq, Loki) renders it from the two when shown.
            // JSON (production) goes through ConsoleLineSink, which writes many calls' lines at once, formatted by
            // CompactJsonLineFormatter (CompactJsonFormatter's characters without its per-event garbage); the text
            // form is for a developer's terminal and keeps the console sink's colours.
            if (json) logger.WriteTo.Sink(new ConsoleLineSink(new CompactJsonLineFormatter()));
            else logger.WriteTo.Async(sink => sink.Console(outputTemplate: TextTemplate), bufferSize: LogBufferSize, blockWhenFull: true);
        });
        RequestActivity.KeepStarting();
        builder.Services.AddSingleton(services => CallLogSinks.Decide(services, builder.Configuration, json));
        builder.AddGatewayTelemetry();
        builder.Services.AddHealthChecks();
        return builder;
    }

    public static WebApplication MapOperationalEndpoints(this WebApplication app)
    {
        app.MapGet("/healthz", () => TypedResults.Ok(new LivenessDocument("ok"))).WithTags("Operations").AllowAnonymous().OnManagementPort(alsoOnApiPort: true);
        app.MapHealthChecks("/readyz", new Microsoft.AspNetCore.Diagnostics.HealthChecks.HealthCheckOptions
        {
            Predicate = check => check.Tags.Contains("ready"),
            ResponseWriter = WriteReadiness,
        }).AllowAnonymous().OnManagementPort(alsoOnApiPort: true);
        app.MapPrometheusScrapingEndpoint("/metrics").AllowAnonymous().OnManagementPort();
        return app;
    }

    private static Task WriteReadiness(HttpContext context, HealthReport report)
    {
        context.Response.ContentType = "application/json";
        // The API port says only ready or not; which checks failed and why is for the management port.
        if (!ManagementPort.IsManagementRequest(context))
            return JsonSerializer.SerializeAsync(context.Response.Body, new { status = report.Status.ToString().ToLowerInvariant() });
        return JsonSerializer.SerializeAsync(context.Response.Body, new
        {
            status = report.Status.ToString().ToLowerInvariant(),
            checks = report.Entries.ToDictionary(e => e.Key, e => new
            {
                status = e.Value.Status.ToString().ToLowerInvariant(),
                description = e.Value.Description,
            }),
        });
    }
}

/// <summary>The <c>/healthz</c> answer: the process is up and serving.</summary>
public sealed record LivenessDocument([property: System.Text.Json.Serialization.JsonPropertyName("status")] string Status);
