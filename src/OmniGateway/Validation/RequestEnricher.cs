using System.Buffers;
using System.Runtime.InteropServices;
using System.Text.Json;

namespace OmniGateway.Validation;

/// <summary>Step 4 (contract 3.3): writes the upstream's request body. <see cref="RequestValidator"/> decides; this writes.</summary>
internal static class RequestEnricher
{
    /// <summary>
    /// The enriched body, from a request the validator accepted: <c>stream: true</c>, usage reporting on,
    /// modalities and audio as decided, the output cap in a slot admission can lower in place.
    /// Unknown fields pass through byte for byte.
    /// </summary>
    /// <param name="forwarded">
    /// With a body the first try is already sending (<see cref="StreamedRequestBody"/>): the members it has sent, which
    /// are left out, so what is written is the rest of the body — an object to append to them.
    /// </param>
    public static (UpstreamBodyBuffer Body, int MaxOutputTokensSlot) WriteUpstreamBody(JsonElement root, bool wantsAudio, string? voice,
        string outputFormat, int bodyLength, long? maxOutputTokens, ReadOnlySpan<byte> body = default, ForwardableMembers? forwarded = null)
    {
        // Names and constant values as UTF-8 literals: a string name is transcoded on every write.
        var maxOutputSlot = -1;
        var buffer = new UpstreamBodyWriter(forwarded is null ? bodyLength + 256 : 1024);
        var writer = Writer(buffer);
        try
        {
            writer.WriteStartObject();
            foreach (var property in root.EnumerateObject())
            {
                if (IsRewritten(property)) continue; // rewritten below
                if (forwarded is not null && forwarded.Forwarded(body, JsonMarshal.GetRawUtf8PropertyName(property))) continue;
                if (property.NameEquals("input") && property.Value.ValueKind == JsonValueKind.String)
                {
                    // A plain string is one user text message; the upstream only takes the message array.
                    writer.WriteStartArray("input"u8);
                    writer.WriteStartObject();
                    writer.WriteString("role"u8, "user"u8);
                    writer.WriteStartArray("content"u8);
                    writer.WriteStartObject();
                    writer.WriteString("type"u8, "text"u8);
                    writer.WritePropertyName("text"u8);
                    writer.WriteRawValue(JsonMarshal.GetRawUtf8Value(property.Value), skipInputValidation: true);
                    writer.WriteEndObject();
                    writer.WriteEndArray();
                    writer.WriteEndObject();
                    writer.WriteEndArray();
                    continue;
                }
                CopyMember(property, writer);
            }

            writer.WriteBoolean("stream"u8, true);
            writer.WriteStartObject("stream_options"u8);
            if (root.TryGetProperty("stream_options", out var options) && options.ValueKind == JsonValueKind.Object)
            {
                foreach (var option in options.EnumerateObject())
                {
                    if (!option.NameEquals("include_usage")) option.WriteTo(writer);
                }
            }
            // Without it the upstream's converter reports zero usage.
            writer.WriteBoolean("include_usage"u8, true);
            writer.WriteEndObject();

            writer.WriteStartArray("modalities"u8);
            writer.WriteStringValue("text"u8);
            if (wantsAudio) writer.WriteStringValue("audio"u8);
            writer.WriteEndArray();

            if (wantsAudio)
            {
                writer.WriteStartObject("audio"u8);
                if (root.TryGetProperty("audio", out var audio) && audio.ValueKind == JsonValueKind.Object)
                {
                    foreach (var field in audio.EnumerateObject())
                    {
                        if (!field.NameEquals("voice") && !field.NameEquals("format")) field.WriteTo(writer);
                    }
                }
                writer.WriteString("voice"u8, voice);
                writer.WriteString("format"u8, outputFormat);
                writer.WriteEndObject();
            }
            if (maxOutputTokens is { } cap)
            {
                // A fixed-width slot (the number, then blanks), so admission can lower it in place.
                writer.WritePropertyName("max_output_tokens"u8);
                writer.WriteRawValue(cap.ToString(System.Globalization.CultureInfo.InvariantCulture).PadRight(ValidatedRequest.MaxOutputTokensWidth), skipInputValidation: true);
                maxOutputSlot = (int)(writer.BytesCommitted + writer.BytesPending) - ValidatedRequest.MaxOutputTokensWidth;
            }
            writer.WriteEndObject();
            writer.Flush();
        }
        finally
        {
            writer.Reset(Released); // lets go of this call's buffer (a 9 MiB body must not live on with the thread)
        }
        // The writer's own array, not a copy: a 9 MB inline-audio body is written once, not twice (bench/).
        return (buffer.Detach(), maxOutputSlot);
    }

    /// <summary>The members written from the validator's decisions, never copied: the caller's are left out.</summary>
    private static readonly byte[][] RewrittenNames = ["stream"u8.ToArray(), "stream_options"u8.ToArray(), "modalities"u8.ToArray(), "audio"u8.ToArray(),
        "max_output_tokens"u8.ToArray()];

    private static bool IsRewritten(JsonProperty property)
    {
        foreach (var name in RewrittenNames)
        {
            if (property.NameEquals(name)) return true;
        }
        return false;
    }

    /// <summary>
    /// Whether a member, by its unescaped name and its value's first byte, is one this writes itself (a rewritten
    /// member, or <c>input</c> as a plain string) rather than copies: <see cref="ForwardableMembers"/> holds those back.
    /// </summary>
    internal static bool Rewrites(ReadOnlySpan<byte> name, byte valueStart)
    {
        foreach (var rewritten in RewrittenNames)
        {
            if (name.SequenceEqual(rewritten)) return true;
        }
        return valueStart == '"' && name.SequenceEqual("input"u8);
    }

    [ThreadStatic] private static Utf8JsonWriter? _writer;

    /// <summary>Where an idle writer points: never written to, since every use starts with <see cref="Utf8JsonWriter.Reset(IBufferWriter{byte})"/>.</summary>
    private static readonly ArrayBufferWriter<byte> Released = new(1);

    /// <summary>
    /// The thread's writer, pointed at this call's buffer: a writer is ~200 bytes and a call writes one body,
    /// synchronously, so each thread keeps one rather than each call making one (issue 11, allocated per stream).
    /// </summary>
    private static Utf8JsonWriter Writer(IBufferWriter<byte> buffer)
    {
        if (_writer is null) return _writer = new Utf8JsonWriter(buffer, new JsonWriterOptions { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping });
        _writer.Reset(buffer);
        return _writer;
    }

    /// <summary>
    /// A member the gateway does not rewrite, copied as the caller's bytes: the parser has checked them, and
    /// re-encoding (what <see cref="JsonProperty.WriteTo"/> does) walks every node and escapes every string
    /// again — for a 9 MiB inline-audio input, most of step 4's time (bench/: large bodies).
    /// </summary>
    private static void CopyMember(JsonProperty property, Utf8JsonWriter writer)
    {
        var name = JsonMarshal.GetRawUtf8PropertyName(property);
        if (name.IndexOf((byte)'\\') >= 0) writer.WritePropertyName(property.Name); // escaped: decoded, then written as the writer escapes
        else writer.WritePropertyName(name);
        writer.WriteRawValue(JsonMarshal.GetRawUtf8Value(property.Value), skipInputValidation: true);
    }
}
