using Serilog.Core;

namespace OmniGateway.Observability;

/// <summary>
/// Whether every sink is done with a log event when <c>Write</c> returns: true for the gateway's JSON console alone
/// (<see cref="ConsoleLineSink"/> formats each event into its pending text before returning). Then a call's log line
/// (<see cref="CallLogLine"/>) reuses its property dictionary for the next call on the thread, instead of a new one
/// per line: with the two lines per stream, ~1.4 KiB allocated per stream (issue 11, target 4a). Any sink that may
/// keep events — the text console's async queue, a configured <c>Serilog:WriteTo</c>/<c>AuditTo</c> sink, one from
/// DI, another logger provider (the tests' capture) — turns reuse off.
/// </summary>
public sealed record CallLogSinks(bool FormatBeforeReturning)
{
    public static CallLogSinks Decide(IServiceProvider services, IConfiguration configuration, bool jsonConsole) =>
        new(jsonConsole
            && !services.GetServices<ILoggerProvider>().Any()
            && !services.GetServices<ILogEventSink>().Any()
            && !configuration.GetSection("Serilog:WriteTo").Exists()
            && !configuration.GetSection("Serilog:AuditTo").Exists());
}
