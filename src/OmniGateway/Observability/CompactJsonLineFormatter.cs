using System.Globalization;
using Serilog.Events;
using Serilog.Formatting;
using Serilog.Formatting.Json;
using Serilog.Parsing;

namespace OmniGateway.Observability;

/// <summary>
/// Serilog's <c>CompactJsonFormatter</c> line for line, character for character (CompactJsonLineFormatterTests
/// compare the two), without its per-event garbage: the timestamp, trace id and span id are formatted into a
/// stack buffer instead of strings, the message template's tokens and the properties are walked without LINQ
/// iterators or boxed enumerators. That garbage was ~0.5 KB per line, two lines per call (issue 11,
/// bench/: allocated per stream). Property values go through Serilog's own <see cref="JsonValueFormatter"/>.
/// Called one event at a time (ConsoleLineSink formats under its lock), so it keeps one rendering buffer.
/// </summary>
public sealed class CompactJsonLineFormatter : ITextFormatter, IDisposable
{
    private readonly JsonValueFormatter _values = new(typeTagName: "$type");
    private readonly StringWriter _rendering = new(CultureInfo.InvariantCulture);

    public void Format(LogEvent logEvent, TextWriter output)
    {
        Span<char> text = stackalloc char[64];
        output.Write("{\"@t\":\"");
        logEvent.Timestamp.UtcDateTime.TryFormat(text, out var written, "O", CultureInfo.InvariantCulture);
        output.Write(text[..written]);
        output.Write("\",\"@mt\":");
        JsonValueFormatter.WriteQuotedJsonString(logEvent.MessageTemplate.Text, output);

        var renderings = 0;
        foreach (var token in Tokens(logEvent.MessageTemplate))
        {
            if (token is not PropertyToken { Format: not null } property) continue;
            output.Write(renderings++ == 0 ? ",\"@r\":[" : ",");
            var rendering = _rendering.GetStringBuilder();
            rendering.Clear();
            property.Render(logEvent.Properties, _rendering, CultureInfo.InvariantCulture);
            JsonValueFormatter.WriteQuotedJsonString(rendering.ToString(), output);
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
            JsonValueFormatter.WriteQuotedJsonString(logEvent.Exception.ToString(), output);
        }
        if (logEvent.TraceId is { } traceId)
        {
            output.Write(",\"@tr\":\"");
            Span<byte> id = stackalloc byte[16];
            traceId.CopyTo(id);
            Convert.TryToHexStringLower(id, text, out written); // as ToHexString: 32 lower-case hex digits
            output.Write(text[..written]);
            output.Write('\"');
        }
        if (logEvent.SpanId is { } spanId)
        {
            output.Write(",\"@sp\":\"");
            Span<byte> id = stackalloc byte[8];
            spanId.CopyTo(id);
            Convert.TryToHexStringLower(id, text, out written);
            output.Write(text[..written]);
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
        JsonValueFormatter.WriteQuotedJsonString(name.Length > 0 && name[0] == '@' ? "@" + name : name, output);
        output.Write(':');
        _values.Format(value, output);
    }

    private static ReadOnlySpan<MessageTemplateToken> Tokens(MessageTemplate template) =>
        template.Tokens is MessageTemplateToken[] tokens ? tokens : template.Tokens.ToArray();
}
