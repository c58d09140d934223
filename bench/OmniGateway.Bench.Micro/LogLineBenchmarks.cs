using System.Diagnostics;
using BenchmarkDotNet.Attributes;
using OmniGateway.Observability;
using OmniGateway.Usage;
using Serilog.Events;
using Serilog.Formatting.Compact;
using Serilog.Parsing;

namespace OmniGateway.Bench.Micro;

/// <summary>
/// A call's two log lines (its usage line and its access line, with the templates, properties and ids a stream's
/// lines carry) formatted to text: by the gateway's formatter, and by Serilog's compact formatter, whose output it
/// matches character for character (CompactJsonLineFormatterTests), as the reference.
/// </summary>
[MemoryDiagnoser]
public class LogLineBenchmarks : IDisposable
{
    private static readonly MessageTemplateParser Parser = new();
    private readonly CompactJsonLineFormatter _gateway = new();
    private readonly CompactJsonFormatter _serilog = new();
    private readonly StringWriter _output = new(new System.Text.StringBuilder(64 * 1024));
    private LogEvent _usage = null!; // set in Setup
    private LogEvent _access = null!;

    [GlobalSetup]
    public void Setup()
    {
        var trace = ActivityTraceId.CreateRandom();
        var span = ActivitySpanId.CreateRandom();
        var now = DateTimeOffset.UtcNow;
        // The production lines' templates and events; the values are a bench stream's.
        _usage = LogEvent.UnstableAssembleFromParts(now, LogEventLevel.Information, null, Parser.Parse(UsageRecorder.UsageRecordedTemplate),
            new Dictionary<string, LogEventPropertyValue>
            {
                ["RequestId"] = new ScalarValue("req_9eee1df91fbe4e1ba624333403b55935"), ["TenantId"] = new ScalarValue("bench"),
                ["KeyId"] = new ScalarValue("key_6479380d581e"), ["Model"] = new ScalarValue("qwen3.5-omni-plus-all"), ["Voice"] = new ScalarValue("Tina"),
                ["Modalities"] = new ScalarValue("text,audio"), ["StartTime"] = new ScalarValue(now.AddMilliseconds(-4)), ["TimeToFirstByteMs"] = new ScalarValue(3.4513),
                ["DurationMs"] = new ScalarValue(3.4654), ["Outcome"] = new ScalarValue("completed"), ["UpstreamResponseId"] = new ScalarValue("resp_bench"),
                ["InputTokens"] = new ScalarValue(879L), ["CachedTokens"] = new ScalarValue(0L), ["OutputTokens"] = new ScalarValue(1889L),
                ["ReasoningTokens"] = new ScalarValue(0L), ["TotalTokens"] = new ScalarValue(2768L),
                ["EventId"] = CallLogLine.EventIdValue(UsageRecorder.UsageRecordedEvent),
                ["SourceContext"] = new ScalarValue(typeof(UsageRecorder).FullName), ["ConnectionId"] = new ScalarValue("0HNQHAJPACNK1"),
            }, trace, span);
        _access = LogEvent.UnstableAssembleFromParts(now, LogEventLevel.Information, null,
            Parser.Parse(AccessLogMiddleware.Template),
            new Dictionary<string, LogEventPropertyValue>
            {
                ["Method"] = new ScalarValue("POST"), ["Path"] = new ScalarValue("/v1/responses"), ["StatusCode"] = new ScalarValue(200),
                ["DurationMs"] = new ScalarValue(8.2934), ["RequestId"] = new ScalarValue("req_9eee1df91fbe4e1ba624333403b55935"),
                ["TraceId"] = new ScalarValue(trace.ToHexString()), ["TenantId"] = new ScalarValue("bench"), ["ClientAborted"] = new ScalarValue(false),
                ["EventId"] = CallLogLine.EventIdValue(AccessLogMiddleware.AccessLogEvent),
                ["SourceContext"] = new ScalarValue(typeof(AccessLogMiddleware).FullName), ["ConnectionId"] = new ScalarValue("0HNQHAJPACNK1"),
            }, trace, span);
    }

    /// <summary>The text the last benchmark call wrote (the smoke test compares the two formatters' lines).</summary>
    public string Written => _output.ToString();

    public void Dispose()
    {
        _gateway.Dispose();
        _output.Dispose();
        GC.SuppressFinalize(this);
    }

    [Benchmark(Baseline = true, Description = "a call's two lines, Serilog's CompactJsonFormatter")]
    public int Serilog()
    {
        _output.GetStringBuilder().Clear();
        _serilog.Format(_usage, _output);
        _serilog.Format(_access, _output);
        return _output.GetStringBuilder().Length;
    }

    [Benchmark(Description = "a call's two lines, the gateway's CompactJsonLineFormatter")]
    public int Gateway()
    {
        _output.GetStringBuilder().Clear();
        _gateway.Format(_usage, _output);
        _gateway.Format(_access, _output);
        return _output.GetStringBuilder().Length;
    }
}
