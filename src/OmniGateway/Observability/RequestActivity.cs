using System.Diagnostics;

namespace OmniGateway.Observability;

/// <summary>
/// Keeps ASP.NET Core starting its request activity (whose trace id every log line of the request carries)
/// when nothing records spans. ASP.NET Core starts it when an <see cref="ActivitySource"/> listener wants it, or
/// when its hosting logger is on; the gateway turns that logger off (its per-request log scope cost ~0.8 KiB and
/// its enrichment per log line, issue 11), so this listener asks for the activity instead: propagated, never
/// recorded. OpenTelemetry's listener, when traces are exported, decides recording as before (the higher ask wins).
/// </summary>
public static class RequestActivity
{
    /// <summary>The source ASP.NET Core's hosting layer starts each request's activity from.</summary>
    public const string SourceName = "Microsoft.AspNetCore";

    /// <summary>The hosting logger whose scope and request-start lines the gateway does without.</summary>
    public const string HostingLoggerCategory = "Microsoft.AspNetCore.Hosting.Diagnostics";

    private static readonly Lazy<ActivityListener> Listener = new(() =>
    {
        var listener = new ActivityListener
        {
            ShouldListenTo = source => source.Name == SourceName,
            Sample = static (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.PropagationData,
        };
        ActivitySource.AddActivityListener(listener); // process-wide, for the process's life: every host here wants it
        return listener;
    });

    /// <summary>Idempotent: the listener is added once per process.</summary>
    public static void KeepStarting() => _ = Listener.Value;
}
