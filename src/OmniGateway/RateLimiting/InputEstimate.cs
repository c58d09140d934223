using System.Runtime.InteropServices;
using System.Text.Json;
using OmniGateway.Catalog;
using OmniGateway.Validation;

namespace OmniGateway.RateLimiting;

/// <summary>
/// What a validated body will cost in input tokens, before the upstream says: the half of a call's
/// budget reservation that <c>max_output_tokens</c> does not bound. With the model's
/// <see cref="InputEstimateOptions"/> rates:
/// <code>
/// input = ceil(text_bytes / TextBytesPerToken)
///       + ceil(audio_base64_bytes / 1024 × AudioTokensPerKiB) + the same for image and video
///       + url_media_parts × UrlMediaTokens
/// </code>
/// where <c>text_bytes</c> is the body's length less its inline media (so JSON syntax, instructions and
/// every other field count as text: the estimate errs high). Only string lengths are read, nothing decoded.
/// </summary>
public static class InputEstimate
{
    /// <param name="facts">Where a streamed body's skeleton was parsed: the payloads' lengths as sent.</param>
    internal static long Tokens(JsonElement root, int bodyLength, InputEstimateOptions rates, in ScanFacts facts)
    {
        var media = new MediaBytes();
        if (root.TryGetProperty("input", out var input) && input.ValueKind == JsonValueKind.Array)
        {
            foreach (var message in input.EnumerateArray())
            {
                if (message.ValueKind != JsonValueKind.Object || !message.TryGetProperty("content", out var content)
                    || content.ValueKind != JsonValueKind.Array) continue;
                foreach (var part in content.EnumerateArray()) media.Add(part, facts);
            }
        }
        var textBytes = Math.Max(0, bodyLength - media.Inline);
        return (long)Math.Ceiling(textBytes / rates.TextBytesPerToken)
               + PerKiB(media.Audio, rates.AudioTokensPerKiB) + PerKiB(media.Image, rates.ImageTokensPerKiB) + PerKiB(media.Video, rates.VideoTokensPerKiB)
               + media.UrlParts * rates.UrlMediaTokens;
    }

    private static long PerKiB(long bytes, double rate) => (long)Math.Ceiling(bytes / 1024.0 * rate);

    private struct MediaBytes
    {
        public long Audio, Image, Video, UrlParts;
        public readonly long Inline => Audio + Image + Video;

        public void Add(JsonElement part, in ScanFacts facts)
        {
            if (part.ValueKind != JsonValueKind.Object || !part.TryGetProperty("type", out var type) || type.ValueKind != JsonValueKind.String) return;
            if (type.ValueEquals("input_audio"u8))
            {
                if (part.TryGetProperty("input_audio", out var audio) && audio.ValueKind == JsonValueKind.Object && audio.TryGetProperty("data", out var data))
                    Count(data, ref Audio, facts);
            }
            else if (type.ValueEquals("image_url"u8) || type.ValueEquals("input_image"u8)) Count(Payload(part, "image_url"), ref Image, facts);
            else if (type.ValueEquals("video_url"u8)) Count(Payload(part, "video_url"), ref Video, facts);
        }

        private static JsonElement Payload(JsonElement part, string field) =>
            part.TryGetProperty(field, out var value) && value.ValueKind == JsonValueKind.Object && value.TryGetProperty("url", out var url) ? url : value;

        private void Count(JsonElement payload, ref long inlineBytes, in ScanFacts facts)
        {
            if (payload.ValueKind != JsonValueKind.String) return;
            var raw = JsonMarshal.GetRawUtf8Value(payload);
            if (raw.Length > 9 && (raw[1..9].StartsWith("http://"u8) || raw[1..9].StartsWith("https://"u8) || raw[1..9].StartsWith("HTTP"u8))) UrlParts++;
            else inlineBytes += facts.Length(raw);
        }
    }
}
