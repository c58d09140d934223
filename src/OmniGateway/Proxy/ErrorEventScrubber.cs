using System.Buffers;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using OmniGateway.Upstream;

namespace OmniGateway.Proxy;

/// <summary>
/// The upstream's prose in a stream: an <c>error</c> event and the <c>error</c> of <c>response.failed</c>
/// may echo what the upstream received (its <c>Authorization</c>, say). Such events, and only they, are
/// parsed and written again with their error strings scrubbed by <see cref="UpstreamErrorMapper.Scrub"/>,
/// the same scrubber as error responses. Field lines other than <c>data</c> (<c>event:</c>, <c>id:</c>,
/// comments) are kept in order; line ends become LF.
/// </summary>
public static class ErrorEventScrubber
{
    public static byte[] Rewrite(in ReadOnlySequence<byte> sseEvent, SseEventKind kind, IReadOnlyList<string> serverKeys)
    {
        var data = Encoding.UTF8.GetString(SseFraming.Data(sseEvent));
        var scrubbed = ScrubData(data, kind, serverKeys);

        var output = new ArrayBufferWriter<byte>((int)sseEvent.Length + 64);
        var wroteData = false;
        foreach (var line in Encoding.UTF8.GetString(sseEvent).ReplaceLineEndings("\n").Split('\n'))
        {
            if (line.Length == 0) continue;
            if (line.StartsWith("data:", StringComparison.Ordinal) || line == "data")
            {
                if (wroteData) continue;
                wroteData = true;
                foreach (var dataLine in scrubbed.Split('\n')) Append(output, "data: " + dataLine + "\n");
                continue;
            }
            // A comment is prose too; other fields (event:, id:) only lose the key itself, so ids stay usable.
            var kept = line[0] == ':' ? UpstreamErrorMapper.Scrub(line, serverKeys)
                : RemoveKeys(line, serverKeys);
            Append(output, kept + "\n");
        }
        Append(output, "\n");
        return output.WrittenSpan.ToArray();
    }

    private static string ScrubData(string data, SseEventKind kind, IReadOnlyList<string> serverKeys)
    {
        JsonNode? root;
        try { root = JsonNode.Parse(data); }
        catch (JsonException) { root = null; }
        if (root is not JsonObject evt) return UpstreamErrorMapper.Scrub(data, serverKeys);

        // response.failed: only its error is prose; the response's id and output stay as sent, bar the key itself.
        var error = kind == SseEventKind.Failed ? evt["response"]?["error"] : evt;
        if (error is not null) ScrubStrings(error, serverKeys, skipType: true);
        RemoveKeys(evt, serverKeys);
        return evt.ToJsonString(new JsonSerializerOptions { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping });
    }

    private static void ScrubStrings(JsonNode node, IReadOnlyList<string> serverKeys, bool skipType)
    {
        switch (node)
        {
            case JsonObject obj:
                foreach (var (name, value) in obj.ToList())
                {
                    if (value is null || (skipType && name == "type")) continue;
                    if (value is JsonValue v && v.TryGetValue<string>(out var text)) obj[name] = UpstreamErrorMapper.Scrub(text, serverKeys);
                    else ScrubStrings(value, serverKeys, skipType: false);
                }
                break;
            case JsonArray array:
                for (var i = 0; i < array.Count; i++)
                {
                    if (array[i] is JsonValue v && v.TryGetValue<string>(out var text)) array[i] = UpstreamErrorMapper.Scrub(text, serverKeys);
                    else if (array[i] is { } child) ScrubStrings(child, serverKeys, skipType: false);
                }
                break;
        }
    }

    /// <summary>The server keys, wherever they stand in the event, and only they: no false positives.</summary>
    private static void RemoveKeys(JsonNode node, IReadOnlyList<string> serverKeys)
    {
        switch (node)
        {
            case JsonObject obj:
                foreach (var (name, value) in obj.ToList())
                {
                    if (value is JsonValue v && v.TryGetValue<string>(out var text)) obj[name] = RemoveKeys(text, serverKeys);
                    else if (value is not null) RemoveKeys(value, serverKeys);
                }
                break;
            case JsonArray array:
                for (var i = 0; i < array.Count; i++)
                {
                    if (array[i] is JsonValue v && v.TryGetValue<string>(out var text)) array[i] = RemoveKeys(text, serverKeys);
                    else if (array[i] is { } child) RemoveKeys(child, serverKeys);
                }
                break;
        }
    }

    private static string RemoveKeys(string text, IReadOnlyList<string> serverKeys)
    {
        foreach (var key in serverKeys)
        {
            if (key.Length > 0) text = text.Replace(key, "[redacted]", StringComparison.Ordinal);
        }
        return text;
    }

    private static void Append(ArrayBufferWriter<byte> output, string text)
    {
        var span = output.GetSpan(Encoding.UTF8.GetMaxByteCount(text.Length));
        output.Advance(Encoding.UTF8.GetBytes(text, span));
    }
}
