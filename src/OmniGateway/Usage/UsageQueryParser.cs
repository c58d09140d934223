using System.Globalization;
using OmniGateway.Errors;

namespace OmniGateway.Usage;

/// <summary>The query string of the usage endpoints, checked; a bad value is a 400 naming its parameter.</summary>
public static class UsageQueryParser
{
    public static (UsageQuery? Query, GatewayError? Error) Parse(string? tenant, string? model, string? from, string? to, string? granularity,
        string? groupBy = null, IReadOnlyList<string?>? tags = null)
    {
        if (!TryInstant(from, out var fromInstant)) return (null, BadInstant("from", from!));
        if (!TryInstant(to, out var toInstant)) return (null, BadInstant("to", to!));
        if (fromInstant is { } f && toInstant is { } t && t <= f)
            return (null, GatewayErrors.BadRequest("invalid_range", "'to' must be later than 'from' ('to' is exclusive).", "to"));

        UsageGranularity? grain = string.IsNullOrEmpty(granularity) ? UsageGranularity.Total : granularity.ToUpperInvariant() switch
        {
            "TOTAL" => UsageGranularity.Total,
            "DAY" => UsageGranularity.Day,
            "HOUR" => UsageGranularity.Hour,
            _ => null,
        };
        if (grain is null)
        {
            return (null, GatewayErrors.BadRequest("invalid_granularity",
                $"granularity '{GatewayErrors.Truncate(granularity!)}' is not one of total (the default), day or hour.", "granularity"));
        }
        string? groupByTag = null;
        if (!string.IsNullOrEmpty(groupBy))
        {
            if (!groupBy.StartsWith("tag:", StringComparison.Ordinal) || !RecordTags.IsValidKey(groupBy[4..]))
                return (null, GatewayErrors.BadRequest("invalid_group_by",
                    $"group_by '{GatewayErrors.Truncate(groupBy)}' must be tag:<key>, e.g. group_by=tag:feature (keys are letters, digits, '_', '-', '.').", "group_by"));
            groupByTag = groupBy[4..];
        }
        var filters = new List<KeyValuePair<string, string>>();
        foreach (var tag in tags ?? [])
        {
            if (string.IsNullOrEmpty(tag)) continue;
            var colon = tag.IndexOf(':');
            if (colon <= 0 || !RecordTags.IsValidKey(tag[..colon]))
                return (null, GatewayErrors.BadRequest("invalid_tag",
                    $"tag '{GatewayErrors.Truncate(tag)}' must be <key>:<value>, e.g. tag=feature:voice-search.", "tag"));
            if (filters.Count == RecordTags.MaxCount)
                return (null, GatewayErrors.BadRequest("invalid_tag", $"At most {RecordTags.MaxCount} tag filters per query.", "tag"));
            filters.Add(new(tag[..colon], tag[(colon + 1)..]));
        }
        return (new UsageQuery(tenant, model, fromInstant, toInstant, grain.Value) { GroupByTag = groupByTag, TagFilters = filters }, null);
    }

    /// <summary>An ISO-8601 date or instant; without an offset it is taken as UTC.</summary>
    private static bool TryInstant(string? value, out DateTimeOffset? instant)
    {
        instant = null;
        if (string.IsNullOrEmpty(value)) return true;
        // An unencoded '+' of an offset arrives as a space.
        if (!DateTimeOffset.TryParseExact(value.Replace(' ', '+'), Formats, CultureInfo.InvariantCulture,
                DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal, out var parsed))
        {
            return false;
        }
        instant = parsed;
        return true;
    }

    private static readonly string[] Formats =
    [
        "yyyy-MM-dd", "yyyy-MM-dd'T'HH:mm", "yyyy-MM-dd'T'HH:mm:ss", "yyyy-MM-dd'T'HH:mm:ss.FFFFFFF",
        "yyyy-MM-dd'T'HH:mmK", "yyyy-MM-dd'T'HH:mm:ssK", "yyyy-MM-dd'T'HH:mm:ss.FFFFFFFK",
    ];

    private static GatewayError BadInstant(string param, string value) =>
        GatewayErrors.BadRequest("invalid_" + param,
            $"'{param}' value '{GatewayErrors.Truncate(value)}' is not an ISO-8601 instant. Use e.g. 2026-05-01T00:00:00Z (UTC) or 2026-05-01.", param);
}
