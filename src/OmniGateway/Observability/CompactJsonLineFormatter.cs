using System.Buffers;
using System.Globalization;
using Serilog.Events;
using Serilog.Formatting;
using Serilog.Formatting.Json;
using Serilog.Parsing;

namespace OmniGateway.Observability;

/// <summary>
/// Serilog's <c>CompactJsonFormatter</c> line for line, character for character (CompactJsonLineFormatterTests
/// compare the two), without its per-event garbage: the timestamp is formatted into a stack buffer instead of a
/// string (the trace and span ids hold their hex strings already), the message template's tokens and the properties
/// are walked without LINQ iterators or boxed enumerators. That garbage was ~0.5 KB per line, two lines per call
/// (issue 11, bench/: allocated per stream). Property values go through Serilog's own <see cref="JsonValueFormatter"/>.
/// Called one event at a time (ConsoleLineSink formats under its lock), so it keeps one rendering buffer.
/// Strings are quoted by <see cref="WriteQuotedJsonString"/>: Serilog's own quoting looked at them one character at a
/// time, the largest part of formatting a call's two lines (bench/profile.sh).
/// </summary>
public sealed class CompactJsonLineFormatter : ITextFormatter, IDisposable
{
    // What JSON strings must escape: control characters, the quote and the backslash.
    private static readonly SearchValues<char> Escaped = SearchValues.Create([.. Enumerable.Range(0, 32).Select(c => (char)c), '"', '\\']);

    private readonly ValueFormatter _values = new();
    private readonly StringWriter _rendering = new(CultureInfo.InvariantCulture);

    public void Format(LogEvent logEvent, TextWriter output)
    {
        Span<char> text = stackalloc char[64];
        output.Write("{\"@t\":\"");
        logEvent.Timestamp.UtcDateTime.TryFormat(text, out var written, "O", CultureInfo.InvariantCulture);
        output.Write(text[..written]);
        output.Write("\",\"@mt\":");
        WriteQuotedJsonString(logEvent.MessageTemplate.Text, output);

        var renderings = 0;
        foreach (var token in Tokens(logEvent.MessageTemplate))
        {
            if (token is not PropertyToken { Format: not null } property) continue;
            output.Write(renderings++ == 0 ? ",\"@r\":[" : ",");
            var rendering = _rendering.GetStringBuilder();
            rendering.Clear();
            property.Render(logEvent.Properties, _rendering, CultureInfo.InvariantCulture);
            WriteQuotedJsonString(rendering.ToString(), output);
        }
        if (renderings > 0) output.Write(']');

        if (logEvent.Level != LogEventLevel.Information)
        {
            output.Write(",\"@l\":\"");
            output.Write(logEvent.Level);
            output.Write('\"');
        }
        if (logEvent.Exception != null)
        {
            output.Write(",\"@x\":");
            WriteQuotedJsonString(logEvent.Exception.ToString(), output);
        }
        // An id holds its hex digits as a string: ToHexString hands that over, where CopyTo parsed it into bytes (which
        // were then turned back into hex here, 0.5 perf-µs per stream in bench/profile.sh).
        if (logEvent.TraceId is { } traceId)
        {
            output.Write(",\"@tr\":\"");
            output.Write(traceId.ToHexString());
            output.Write('\"');
        }
        if (logEvent.SpanId is { } spanId)
        {
            output.Write(",\"@sp\":\"");
            output.Write(spanId.ToHexString());
            output.Write('\"');
        }

        if (logEvent.Properties is Dictionary<string, LogEventPropertyValue> properties)
        {
            foreach (var (name, value) in properties) WriteProperty(name, value, output);
        }
        else
        {
            foreach (var (name, value) in logEvent.Properties) WriteProperty(name, value, output);
        }
        output.Write('}');
        output.WriteLine();
    }

    public void Dispose() => _rendering.Dispose();

    private void WriteProperty(string name, LogEventPropertyValue value, TextWriter output)
    {
        output.Write(',');
        // A leading '@' is escaped by doubling, as the compact format reserves @-names for itself.
        WriteQuotedJsonString(name.Length > 0 && name[0] == '@' ? "@" + name : name, output);
        output.Write(':');
        _values.Format(value, output);
    }

    /// <summary>
    /// As <see cref="JsonValueFormatter.WriteQuotedJsonString"/> writes it: a string with nothing to escape (every string of
    /// the per-call lines) is found so in one vectorised search and written whole; any other goes to Serilog's quoting.
    /// </summary>
    internal static void WriteQuotedJsonString(string text, TextWriter output)
    {
        if (text.AsSpan().ContainsAny(Escaped))
        {
            JsonValueFormatter.WriteQuotedJsonString(text, output);
            return;
        }
        output.Write('\"');
        output.Write(text);
        output.Write('\"');
    }

    /// <summary>Serilog's value formatter, with string values quoted by <see cref="WriteQuotedJsonString"/>.</summary>
    private sealed class ValueFormatter() : JsonValueFormatter(typeTagName: "$type")
    {
        protected override void FormatLiteralValue(object? value, TextWriter output)
        {
            if (value is string text) WriteQuotedJsonString(text, output);
            else base.FormatLiteralValue(value, output);
        }
    }

    private static ReadOnlySpan<MessageTemplateToken> Tokens(MessageTemplate template) =>
        template.Tokens is MessageTemplateToken[] tokens ? tokens : template.Tokens.ToArray();
}
