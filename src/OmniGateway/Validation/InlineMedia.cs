using System.Buffers.Text;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json;

namespace OmniGateway.Validation;

/// <summary>Checks a media payload that is either an absolute http(s) URL or inline base64 (bare or a data: URI).</summary>
internal static class InlineMedia
{
    public enum Kind { Url, Inline, BadUrl, BadDataUri }

    /// <summary>Raw UTF-8 of a JSON string without copying it; escaped strings (rare for base64) are decoded once.</summary>
    /// <param name="mayHoldEscape">False when the body is known to hold no backslash: a 9 MiB payload is not searched for one.</param>
    public static ReadOnlySpan<byte> Utf8(JsonElement element, bool mayHoldEscape, out byte[]? rented)
    {
        rented = null;
        var raw = JsonMarshal.GetRawUtf8Value(element)[1..^1]; // drop the quotes
        if (!mayHoldEscape || raw.IndexOf((byte)'\\') < 0) return raw;
        rented = Encoding.UTF8.GetBytes(element.GetString()!); // escaped: GetString never returns null for a string element
        return rented;
    }

    public static Kind Classify(ReadOnlySpan<byte> value, out ReadOnlySpan<byte> base64)
    {
        base64 = default;
        if (StartsWithIgnoreCase(value, "http://"u8) || StartsWithIgnoreCase(value, "https://"u8))
        {
            var text = Encoding.UTF8.GetString(value);
            return Uri.TryCreate(text, UriKind.Absolute, out var uri) && !string.IsNullOrEmpty(uri.Host) ? Kind.Url : Kind.BadUrl;
        }
        if (StartsWithIgnoreCase(value, "data:"u8))
        {
            var comma = value.IndexOf((byte)',');
            if (comma < 0) return Kind.BadDataUri;
            var header = value[..comma];
            if (!EndsWithIgnoreCase(header, ";base64"u8)) return Kind.BadDataUri;
            base64 = value[(comma + 1)..];
            return Kind.Inline;
        }
        if (value.IndexOf("://"u8) >= 0) return Kind.BadUrl;
        base64 = value;
        return Kind.Inline;
    }

    public static bool IsValidBase64(ReadOnlySpan<byte> base64) => !base64.IsEmpty && Base64.IsValid(base64);

    /// <summary>The first bytes of the decoded payload, enough for any container signature.</summary>
    public static int DecodeHead(ReadOnlySpan<byte> base64, Span<byte> head)
    {
        var take = Math.Min(base64.Length, 24) & ~3;
        var status = Base64.DecodeFromUtf8(base64[..take], head, out _, out var written, isFinalBlock: take == base64.Length);
        return status is System.Buffers.OperationStatus.Done or System.Buffers.OperationStatus.NeedMoreData ? written : 0;
    }

    /// <summary>Standard container signatures. Formats without a known one are not checked.</summary>
    public static bool MatchesFormat(string format, ReadOnlySpan<byte> head) => format switch
    {
        "wav" => head.Length >= 12 && head.StartsWith("RIFF"u8) && head[8..12].SequenceEqual("WAVE"u8),
        "flac" => head.StartsWith("fLaC"u8),
        "ogg" => head.StartsWith("OggS"u8),
        "mp3" => head.StartsWith("ID3"u8) || (head.Length >= 2 && head[0] == 0xFF && (head[1] & 0xE0) == 0xE0),
        "aac" => (head.Length >= 2 && head[0] == 0xFF && (head[1] & 0xF6) == 0xF0) || head.StartsWith("ADIF"u8) || IsIsoMedia(head),
        "amr" => head.StartsWith("#!AMR"u8),
        "3gp" or "3gpp" or "m4a" or "mp4" => IsIsoMedia(head),
        _ => true,
    };

    private static bool IsIsoMedia(ReadOnlySpan<byte> head) => head.Length >= 8 && head[4..8].SequenceEqual("ftyp"u8);

    private static bool StartsWithIgnoreCase(ReadOnlySpan<byte> value, ReadOnlySpan<byte> prefix) =>
        value.Length >= prefix.Length && Ascii.EqualsIgnoreCase(value[..prefix.Length], prefix);

    private static bool EndsWithIgnoreCase(ReadOnlySpan<byte> value, ReadOnlySpan<byte> suffix) =>
        value.Length >= suffix.Length && Ascii.EqualsIgnoreCase(value[^suffix.Length..], suffix);
}
