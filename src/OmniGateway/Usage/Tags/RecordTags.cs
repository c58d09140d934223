using System.Text.Json;
using System.Text.RegularExpressions;
using OmniGateway.Errors;

namespace OmniGateway.Usage;

/// <summary>
/// A call's attribution tags: the Responses request's own <c>metadata</c> object and the
/// <c>x-omnigateway-tags</c> header (<c>key=value,key2=value2</c>, values percent-encoded where they hold
/// <c>,</c> <c>=</c> <c>%</c> or non-ASCII). Bounded as OpenAI bounds <c>metadata</c> (16 pairs, 64-character
/// keys, 512-character values), so a request the OpenAI API takes is taken here; a value that looks like
/// a credential is refused, so no key ever reaches the ledger, the usage API or the feed.
/// </summary>
public static partial class RecordTags
{
    public const string Header = "x-omnigateway-tags";
    public const int MaxCount = 16;
    public const int MaxKeyLength = 64;
    public const int MaxValueLength = 512;

    private static readonly JsonSerializerOptions Json = new() { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    /// <summary>Tags from the body's <c>metadata</c> (absent or null: none) and the header, merged; a clear 400 naming the param otherwise.</summary>
    public static (IReadOnlyDictionary<string, string> Tags, GatewayError? Error) Read(JsonElement root, string? header)
    {
        var hasMetadata = root.TryGetProperty("metadata", out var metadata) && metadata.ValueKind != JsonValueKind.Null;
        // Most calls carry no tags: no dictionary for them (issue 11: allocated per stream).
        if (!hasMetadata && string.IsNullOrWhiteSpace(header)) return (UsageRecord.EmptyTags, null);
        var tags = new SortedDictionary<string, string>(StringComparer.Ordinal);
        if (hasMetadata)
        {
            if (metadata.ValueKind != JsonValueKind.Object)
                return Fail("invalid_metadata", "'metadata' must be an object of string values, e.g. {\"feature\":\"voice-search\"}.", "metadata");
            foreach (var property in metadata.EnumerateObject())
            {
                if (property.Value.ValueKind != JsonValueKind.String && !LooksLikeKey(property.Name))
                    return Fail("invalid_metadata", $"metadata values must be strings; '{GatewayErrors.Truncate(property.Name)}' is a {Validation.RequestValidator.Describe(property.Value)}.",
                        "metadata." + Param(property.Name));
                if (Check(property.Name, property.Value.ValueKind == JsonValueKind.String ? property.Value.GetString()! : "", "metadata." + Param(property.Name)) is { } error) return (UsageRecord.EmptyTags, error);
                tags[property.Name] = property.Value.GetString()!;
            }
        }
        if (!string.IsNullOrWhiteSpace(header))
        {
            foreach (var pair in header.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))
            {
                var equals = pair.IndexOf('=');
                if (LooksLikeKey(pair)) return (UsageRecord.EmptyTags, Check(pair, pair, Header));
                if (equals <= 0)
                    return Fail("invalid_tags_header", $"{Header} must be key=value pairs separated by commas, e.g. feature=voice-search,team=web; '{GatewayErrors.Truncate(pair)}' has no key=value.", Header);
                var key = pair[..equals].Trim();
                string value;
                try
                {
                    value = Uri.UnescapeDataString(pair[(equals + 1)..].Trim());
                }
                catch (UriFormatException)
                {
                    return Fail("invalid_tags_header", $"{Header}: the value of '{GatewayErrors.Truncate(key)}' is not valid percent-encoding.", Header);
                }
                if (Check(key, value, Header) is { } error) return (UsageRecord.EmptyTags, error);
                if (tags.TryGetValue(key, out var existing) && existing != value)
                    return Fail("conflicting_tags", $"Tag '{key}' is '{GatewayErrors.Truncate(existing)}' in metadata but '{GatewayErrors.Truncate(value)}' in {Header}; send one value.", Header);
                tags[key] = value;
            }
        }
        if (tags.Count > MaxCount)
            return Fail("too_many_tags", $"A call may carry at most {MaxCount} tags (metadata and {Header} together); this one has {tags.Count}. Drop some.", string.IsNullOrWhiteSpace(header) ? "metadata" : Header);
        return (tags.Count == 0 ? UsageRecord.EmptyTags : tags, null);
    }

    /// <summary>Tag keys as query parameters and JSON paths take them: letters, digits, '_', '-', '.'.</summary>
    public static bool IsValidKey(string key) => key.Length is > 0 and <= MaxKeyLength && KeyShape().IsMatch(key);

    public static string? ToJson(IReadOnlyDictionary<string, string> tags) => tags.Count == 0 ? null : JsonSerializer.Serialize(tags, Json);

    public static IReadOnlyDictionary<string, string> FromJson(string? json) =>
        json is null ? UsageRecord.EmptyTags : JsonSerializer.Deserialize<SortedDictionary<string, string>>(json) ?? (IReadOnlyDictionary<string, string>)UsageRecord.EmptyTags;

    private static GatewayError? Check(string key, string value, string param)
    {
        // First, and without echoing either: an error body must not carry a key back out either.
        if (LooksLikeKey(value) || LooksLikeKey(key))
            return GatewayErrors.BadRequest("tag_looks_like_key",
                "A tag looks like a credential (an API key, bearer token or long random string); tags are stored and exported, so they must never hold keys.",
                param.StartsWith(Header, StringComparison.Ordinal) ? Header : "metadata");
        if (!IsValidKey(key))
            return GatewayErrors.BadRequest("invalid_tag_key",
                $"Tag key '{GatewayErrors.Truncate(key)}' must be 1 to {MaxKeyLength} letters, digits, '_', '-' or '.'.", param);
        if (value.Length > MaxValueLength)
            return GatewayErrors.BadRequest("tag_value_too_long", $"Tag '{key}' is {value.Length} characters long; the most is {MaxValueLength}.", param);
        if (value.Any(char.IsControl))
            return GatewayErrors.BadRequest("invalid_tag_value", $"Tag '{key}' holds a control character; send printable text.", param);
        return null;
    }

    /// <summary>Provider and gateway keys, bearer tokens, long hex, and long base64-ish runs that mix cases and digits.</summary>
    internal static bool LooksLikeKey(string value)
    {
        if (ProviderKey().IsMatch(value) || BearerToken().IsMatch(value) || LongHex().IsMatch(value)) return true;
        foreach (Match run in TokenRun().Matches(value))
        {
            var token = run.ValueSpan;
            if (token.ContainsAnyInRange('0', '9') && token.ContainsAnyInRange('A', 'Z') && token.ContainsAnyInRange('a', 'z')) return true;
        }
        return false;
    }

    private static string Param(string name) => KeyShape().IsMatch(name) ? name : GatewayErrors.Truncate(name);

    private static (IReadOnlyDictionary<string, string>, GatewayError) Fail(string code, string message, string param) =>
        (UsageRecord.EmptyTags, GatewayErrors.BadRequest(code, message, param));

    [GeneratedRegex(@"^[A-Za-z0-9_.\-]+\z")]
    private static partial Regex KeyShape();

    [GeneratedRegex(@"(?i)\b(sk|og|pk|rk)[-_][A-Za-z0-9_\-]{12,}")]
    private static partial Regex ProviderKey();

    [GeneratedRegex(@"(?i)\bbearer\s+\S{8,}")]
    private static partial Regex BearerToken();

    [GeneratedRegex(@"\b[0-9a-fA-F]{32,}\b")]
    private static partial Regex LongHex();

    [GeneratedRegex(@"[A-Za-z0-9+/_\-]{24,}")]
    private static partial Regex TokenRun();
}
