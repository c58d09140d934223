using System.Diagnostics;
using Serilog.Core;
using Serilog.Events;
using Serilog.Parsing;

namespace OmniGateway.Observability;

/// <summary>
/// A log line written once per call (the access line, <c>UsageRecorded</c>), straight to Serilog with its
/// properties built in one dictionary of the right size. Through the Microsoft.Extensions.Logging bridge
/// the same event boxed the [LoggerMessage] state, grew its property dictionary three times (3 → 7 → 17
/// → 37 entries) and re-read every property: about half of the Serilog share of a stream's allocations
/// (issue 11, bench/: allocated per stream). The event is the one the bridge made: same template,
/// properties in the same order, <c>EventId</c> as the same structure, <c>SourceContext</c> with its level
/// overrides, log-context properties, trace and span ids, and it reaches the same sinks (the console, the other logger providers).
/// </summary>
public sealed class CallLogLine
{
    private static readonly MessageTemplateParser Parser = new();

    private readonly Serilog.ILogger _logger;
    private readonly MessageTemplate _template;
    private readonly LogEventPropertyValue _eventId;
    private readonly int _capacity;
    private readonly bool _reuse;

    /// <summary>
    /// The thread's spare property dictionary, when events may be reused (<see cref="CallLogSinks"/>): taken out while
    /// a line is built and written, put back cleared, so a line written while another is being built gets its own.
    /// </summary>
    [ThreadStatic] private static Dictionary<string, LogEventPropertyValue>? _spare;

    /// <param name="logger">The application's Serilog logger (the one Microsoft.Extensions.Logging writes through).</param>
    /// <param name="category">The category ([LoggerMessage]'s logger name): the event's <c>SourceContext</c>.</param>
    /// <param name="sinks">Whether the sinks are done with an event when <c>Write</c> returns; by default not.</param>
    public CallLogLine(Serilog.ILogger logger, string category, EventId eventId, string template, CallLogSinks? sinks = null)
    {
        _reuse = sinks?.FormatBeforeReturning ?? false;
        _logger = logger.ForContext(Constants.SourceContextPropertyName, category);
        _template = Parser.Parse(template);
        _eventId = EventIdValue(eventId);
        // The template's properties, EventId and SourceContext: room for all without a resize.
        _capacity = _template.Tokens.OfType<PropertyToken>().Select(p => p.PropertyName).Distinct().Count() + 2;
    }

    public bool IsEnabled(LogEventLevel level) => _logger.IsEnabled(level);

    /// <summary>An empty property dictionary for one event: add the template's properties in its order, then <see cref="Write"/>.</summary>
    public Dictionary<string, LogEventPropertyValue> NewProperties()
    {
        if (!_reuse) return new(_capacity);
        var spare = _spare;
        _spare = null;
        if (spare is null) return new(_capacity);
        spare.EnsureCapacity(_capacity);
        return spare;
    }

    public void Write(LogEventLevel level, Dictionary<string, LogEventPropertyValue> properties)
    {
        properties["EventId"] = _eventId;
        var activity = Activity.Current;
        // DateTimeOffset.Now, as the bridge stamps events (the sinks read the event's own time, not a TimeProvider's).
        _logger.Write(LogEvent.UnstableAssembleFromParts(DateTimeOffset.Now, level, null, _template, properties,
            activity?.TraceId ?? default, activity?.SpanId ?? default));
        if (!_reuse) return;
        // Every sink has formatted the event (CallLogSinks): its dictionary is free for the thread's next line.
        properties.Clear();
        _spare = properties;
    }

    /// <summary>The <c>EventId</c> property as the bridge builds it (EventIdPropertyCache): Id, then Name.</summary>
    public static StructureValue EventIdValue(EventId eventId) =>
        new([new LogEventProperty("Id", new ScalarValue(eventId.Id)), new LogEventProperty("Name", new ScalarValue(eventId.Name))]);

    /// <summary>A property value as the bridge makes it for a scalar (string, number, bool, time or null).</summary>
    public static ScalarValue Scalar(object? value) => value is null ? Null : new ScalarValue(value);

    public static ScalarValue Scalar(bool value) => value ? True : False;

    /// <summary>An HTTP status: one value per code, shared by every line (no box and value per request).</summary>
    public static ScalarValue Status(int code) => code is >= 100 and < 600 ? StatusValues[code - 100] : new ScalarValue(code);

    /// <summary>
    /// A string from a bounded set — a tenant, a key id, a model, a voice, an outcome, a method — as one value per
    /// distinct string instance, shared by every line while that string lives (values are immutable). Never for
    /// what a caller chooses freely (a path, an id), which would only fill the table.
    /// </summary>
    public static ScalarValue Known(string? value) => value is null ? Null : KnownValues.GetValue(value, static v => new ScalarValue(v));

    private static readonly System.Runtime.CompilerServices.ConditionalWeakTable<string, ScalarValue> KnownValues = new();
    private static readonly ScalarValue[] StatusValues = Enumerable.Range(100, 500).Select(code => new ScalarValue(code)).ToArray();

    private static readonly ScalarValue Null = new(null);
    private static readonly ScalarValue True = new(true);
    private static readonly ScalarValue False = new(false);
}
