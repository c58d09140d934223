using System.Buffers;
using System.Globalization;
using System.Text;
using System.Text.Json;

namespace OmniGateway.Usage.Export;

/// <summary>
/// One record as the feed sends it: every stored column, written once when the record is stored (so the
/// feed carries exactly what the ledger holds), the upstream's usage object embedded verbatim.
/// </summary>
public static class UsageFeedRecord
{
    private static readonly JsonWriterOptions Options = new() { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    public static string ToJson(UsageRecord record, long recordedAtMs)
    {
        var buffer = new ArrayBufferWriter<byte>(1024);
        using (var w = new Utf8JsonWriter(buffer, Options))
        {
            w.WriteStartObject();
            w.WriteString("idempotency_key", record.RecordKey);
            w.WriteString("request_id", record.RequestId);
            w.WriteString("tenant", record.TenantId);
            w.WriteString("key_id", record.KeyId);
            w.WriteString("model", record.Model);
            w.WriteString("voice", record.Voice);
            w.WriteString("modalities", record.Modalities);
            w.WriteString("started_at", Instant(record.StartedAt));
            if (record.TimeToFirstByteMs is { } ttfb) w.WriteNumber("ttfb_ms", ttfb); else w.WriteNull("ttfb_ms");
            w.WriteNumber("duration_ms", record.DurationMs);
            w.WriteString("outcome", UsageRecord.OutcomeName(record.Outcome));
            w.WriteString("upstream_response_id", record.UpstreamResponseId);
            w.WriteNumber("upstream_attempts", record.UpstreamAttempts);
            var usage = record.Usage;
            Tokens(w, "input_tokens", usage?.InputTokens);
            Tokens(w, "cached_tokens", usage?.CachedTokens);
            Tokens(w, "output_tokens", usage?.OutputTokens);
            Tokens(w, "reasoning_tokens", usage?.ReasoningTokens);
            Tokens(w, "total_tokens", usage?.TotalTokens);
            w.WritePropertyName("usage");
            if (usage is null) w.WriteNullValue(); else w.WriteRawValue(usage.RawJson);
            w.WriteBoolean("usage_reported", record.UsageReported);
            Tokens(w, "reserved_tokens", record.ReservedTokens);
            if (record.Cost?.Amount is { } amount) w.WriteNumber("cost", amount); else w.WriteNull("cost");
            w.WriteString("currency", record.Cost?.Currency);
            if (record.Cost is { } cost) w.WriteString("price_effective_from", Instant(cost.PriceEffectiveFrom)); else w.WriteNull("price_effective_from");
            w.WriteStartObject("tags");
            foreach (var (key, value) in record.Tags) w.WriteString(key, value);
            w.WriteEndObject();
            w.WriteString("recorded_at", Instant(DateTimeOffset.FromUnixTimeMilliseconds(recordedAtMs)));
            w.WriteEndObject();
        }
        return Encoding.UTF8.GetString(buffer.WrittenSpan);
    }

    private static void Tokens(Utf8JsonWriter w, string name, long? value)
    {
        if (value is { } v) w.WriteNumber(name, v); else w.WriteNull(name);
    }

    private static string Instant(DateTimeOffset value) => value.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", CultureInfo.InvariantCulture);
}
