using System.Buffers;
using System.Text;
using System.Text.Json;
using OmniGateway.Usage;

namespace OmniGateway.Proxy;

/// <summary>What a terminal event says: the response id, and the usage the upstream will bill.</summary>
public sealed record TerminalEvent(SseEventKind Kind, string? ResponseId, UpstreamUsage? Usage, string? ErrorCode, string? ErrorMessage)
{
    public UsageOutcome Outcome => Kind switch
    {
        SseEventKind.Completed => UsageOutcome.Completed,
        SseEventKind.Incomplete => UsageOutcome.Incomplete,
        _ => UsageOutcome.Failed,
    };

    /// <summary>
    /// Reads <c>response.id</c>, <c>response.usage</c> and <c>response.error</c> (or a bare error event's
    /// code and message) straight off the event's bytes. Lenient: unknown or malformed fields are skipped.
    /// </summary>
    public static TerminalEvent Read(SseEventKind kind, in ReadOnlySequence<byte> data)
    {
        string? id = null, code = null, message = null;
        UpstreamUsage? usage = null;
        var reader = new Utf8JsonReader(data, new JsonReaderOptions { MaxDepth = 256 });
        try
        {
            if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject) return new(kind, null, null, null, null);
            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                if (reader.ValueTextEquals("response"u8))
                {
                    reader.Read();
                    if (reader.TokenType == JsonTokenType.StartObject) ReadResponse(ref reader, data, ref id, ref usage, ref code, ref message);
                    else reader.Skip();
                }
                else if (reader.ValueTextEquals("code"u8)) { reader.Read(); code = ReadString(ref reader); }
                else if (reader.ValueTextEquals("message"u8)) { reader.Read(); message = ReadString(ref reader); }
                else { reader.Read(); reader.Skip(); }
            }
        }
        catch (JsonException)
        {
            // A truncated or odd terminal event still ends the stream; keep what was read.
        }
        return new(kind, id, usage, code, message);
    }

    private static void ReadResponse(ref Utf8JsonReader reader, in ReadOnlySequence<byte> data, ref string? id, ref UpstreamUsage? usage,
        ref string? code, ref string? message)
    {
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            if (reader.ValueTextEquals("id"u8)) { reader.Read(); id = ReadString(ref reader); }
            else if (reader.ValueTextEquals("usage"u8))
            {
                reader.Read();
                if (reader.TokenType == JsonTokenType.StartObject)
                {
                    var start = reader.TokenStartIndex;
                    reader.Skip();
                    usage = ParseUsage(data.Slice(start, reader.BytesConsumed - start));
                }
            }
            else if (reader.ValueTextEquals("error"u8))
            {
                reader.Read();
                if (reader.TokenType != JsonTokenType.StartObject) { reader.Skip(); continue; }
                while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
                {
                    if (reader.ValueTextEquals("code"u8)) { reader.Read(); code = ReadString(ref reader); }
                    else if (reader.ValueTextEquals("message"u8)) { reader.Read(); message = ReadString(ref reader); }
                    else { reader.Read(); reader.Skip(); }
                }
            }
            else { reader.Read(); reader.Skip(); }
        }
    }

    private static UpstreamUsage ParseUsage(in ReadOnlySequence<byte> json)
    {
        long input = 0, cached = 0, output = 0, reasoning = 0;
        long? total = null;
        var reader = new Utf8JsonReader(json);
        reader.Read();
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            if (reader.ValueTextEquals("input_tokens"u8)) { reader.Read(); input = ReadLong(ref reader); }
            else if (reader.ValueTextEquals("output_tokens"u8)) { reader.Read(); output = ReadLong(ref reader); }
            else if (reader.ValueTextEquals("total_tokens"u8)) { reader.Read(); total = ReadLong(ref reader); }
            else if (reader.ValueTextEquals("input_tokens_details"u8)) { reader.Read(); cached = ReadNested(ref reader, "cached_tokens"u8); }
            else if (reader.ValueTextEquals("output_tokens_details"u8)) { reader.Read(); reasoning = ReadNested(ref reader, "reasoning_tokens"u8); }
            else { reader.Read(); reader.Skip(); }
        }
        return new UpstreamUsage(input, cached, output, reasoning, total ?? input + output, Encoding.UTF8.GetString(json));
    }

    private static long ReadNested(ref Utf8JsonReader reader, ReadOnlySpan<byte> name)
    {
        long value = 0;
        if (reader.TokenType != JsonTokenType.StartObject) { reader.Skip(); return 0; }
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            var match = reader.ValueTextEquals(name);
            reader.Read();
            if (match) value = ReadLong(ref reader); else reader.Skip();
        }
        return value;
    }

    private static long ReadLong(ref Utf8JsonReader reader) =>
        reader.TokenType == JsonTokenType.Number && reader.TryGetInt64(out var value) ? value : 0;

    private static string? ReadString(ref Utf8JsonReader reader)
    {
        if (reader.TokenType == JsonTokenType.String) return reader.GetString();
        reader.Skip();
        return null;
    }
}
