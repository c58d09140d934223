using System.Diagnostics;
using Serilog.Events;
using Serilog.Formatting.Compact;
using Serilog.Parsing;
using OmniGateway.Observability;

namespace OmniGateway.Tests.Observability;

/// <summary>
/// The gateway's JSON line is Serilog's compact format exactly: every event below is formatted by the
/// gateway's formatter and by Serilog's <see cref="CompactJsonFormatter"/>, and the lines must be equal,
/// character for character. Then, counted not timed: formatting the gateway's two per-call lines allocates
/// only what their formatted numbers need (a rendering string for the access line's duration).
/// </summary>
public sealed class CompactJsonLineFormatterTests
{
    private static readonly MessageTemplateParser Parser = new();

    public static TheoryData<string> Events => [.. Samples().Keys];

    [Theory, MemberData(nameof(Events))]
    public void EveryEvent_IsFormattedAsSerilogsCompactJsonFormatterFormatsIt(string name)
    {
        var logEvent = Samples()[name];
        using var ours = new StringWriter();
        using var serilogs = new StringWriter();
        using var formatter = new CompactJsonLineFormatter();

        formatter.Format(logEvent, ours);
        formatter.Format(logEvent, ours); // twice: the kept rendering buffer must not carry anything over
        new CompactJsonFormatter().Format(logEvent, serilogs);
        new CompactJsonFormatter().Format(logEvent, serilogs);

        Assert.Equal(serilogs.ToString(), ours.ToString());
    }

    [Fact]
    public void ThePerCallLines_AllocateNoPerEventGarbage()
    {
        var usage = Samples()["usage recorded"];
        var access = Samples()["access line with a rendering"];
        using var formatter = new CompactJsonLineFormatter();
        using var output = new StringWriter(new System.Text.StringBuilder(64 * 1024));
        for (var i = 0; i < 3; i++) Format(); // warm-up (JIT, statics); the builder keeps its capacity after Clear

        long allocated = long.MaxValue;
        for (var run = 0; run < 3; run++)
        {
            output.GetStringBuilder().Clear();
            var before = GC.GetAllocatedBytesForCurrentThread();
            Format();
            allocated = Math.Min(allocated, GC.GetAllocatedBytesForCurrentThread() - before);
        }

        // The access line's @r rendering ("480.5"): a string from the value's ToString and one from the kept buffer (64 bytes here).
        // Serilog's formatter made ~500 bytes of strings, iterators and enumerators per line.
        Assert.True(allocated <= 128, $"formatting the two per-call lines allocated {allocated} bytes");

        void Format()
        {
            formatter.Format(usage, output);
            formatter.Format(access, output);
        }
    }

    private static Dictionary<string, LogEvent> Samples()
    {
        var trace = ActivityTraceId.CreateFromString("4bf92f3577b34da6a3ce929d0e0e4736");
        var span = ActivitySpanId.CreateFromString("00f067aa0ba902b7");
        var time = new DateTimeOffset(2026, 12, 2, 5, 5, 13, TimeSpan.Zero).AddTicks(6156589);
        var eventId = new StructureValue([new LogEventProperty("Id", new ScalarValue(7000)), new LogEventProperty("Name", new ScalarValue("UsageRecorded"))]);
        LogEvent Event(string template, LogEventLevel level, Exception? exception, ActivityTraceId traceId, ActivitySpanId spanId,
            params (string Name, LogEventPropertyValue Value)[] properties) =>
            LogEvent.UnstableAssembleFromParts(time, level, exception, Parser.Parse(template),
                properties.ToDictionary(p => p.Name, p => p.Value), traceId, spanId);

        return new()
        {
            ["usage recorded"] = Event("UsageRecorded {RequestId} tenant {TenantId} voice {Voice} started {StartTime} ttfb {TimeToFirstByteMs} ms tokens {InputTokens}",
                LogEventLevel.Information, null, trace, span,
                ("RequestId", new ScalarValue("req_70214f129984430ab1c15d93a816b29d")), ("TenantId", new ScalarValue("bench")),
                ("Voice", new ScalarValue(null)), ("StartTime", new ScalarValue(time.AddMilliseconds(-250))), ("TimeToFirstByteMs", new ScalarValue(153.9869)),
                ("InputTokens", new ScalarValue(879L)), ("EventId", eventId), ("SourceContext", new ScalarValue("OmniGateway.Usage.UsageRecorder")),
                ("RequestPath", new ScalarValue("/v1/responses")), ("ConnectionId", new ScalarValue("0HNQG67CCPEPV"))),
            ["access line with a rendering"] = Event("{Method} {Path} {StatusCode} in {DurationMs:0.0} ms client aborted {ClientAborted}",
                LogEventLevel.Information, null, trace, span,
                ("Method", new ScalarValue("POST")), ("Path", new ScalarValue("/v1/responses")), ("StatusCode", new ScalarValue(200)),
                ("DurationMs", new ScalarValue(480.5)), ("ClientAborted", new ScalarValue(false))),
            ["warning, no trace, two renderings, escapes"] = Event("Refused {Path:l} after {Seconds:0.00} s: {Reason}",
                LogEventLevel.Warning, null, default, default,
                ("Path", new ScalarValue("/v1/\"odd\"\npath")), ("Seconds", new ScalarValue(1.23456)), ("Reason", new ScalarValue("tab\there, ünïcode ✓, \u0001"))),
            ["error with exception, @-named and structured properties"] = Event("Store failed for {@Record}",
                LogEventLevel.Error, new InvalidOperationException("disk \"full\""), trace, default,
                ("Record", new StructureValue([new LogEventProperty("Tokens", new ScalarValue(12)), new LogEventProperty("Tags", new SequenceValue([new ScalarValue("a"), new ScalarValue("b")]))], "UsageRecord")),
                ("@odd", new ScalarValue("kept")), ("Map", new DictionaryValue([new(new ScalarValue("k"), new ScalarValue(1.5m))]))),
            ["debug, span only, no properties"] = Event("Probe", LogEventLevel.Debug, null, default, span),
        };
    }
}
