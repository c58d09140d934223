namespace OmniGateway.Cors;

/// <summary>Origins in the form browsers send them: <c>scheme://host[:port]</c>, lower case, default port left out.</summary>
public static class Origins
{
    public const string Any = "*";

    /// <summary>The serialised origin, or null when <paramref name="value"/> is not an http(s) origin (a path, a query, user info, <c>null</c>).</summary>
    public static string? Normalize(string? value)
    {
        if (string.IsNullOrWhiteSpace(value) || value.Length > 2048) return null;
        if (!Uri.TryCreate(value.Trim(), UriKind.Absolute, out var uri)) return null;
        if (uri.Scheme is not ("http" or "https") || uri.UserInfo.Length > 0 || uri.Host.Length == 0) return null;
        if (uri.AbsolutePath != "/" || uri.Query.Length > 0 || uri.Fragment.Length > 0) return null;
        if (value.TrimEnd().EndsWith('/')) return null; // browsers never send one; a trailing slash is a typo that would never match
        return uri.GetComponents(UriComponents.SchemeAndServer, UriFormat.UriEscaped).ToLowerInvariant();
    }

    /// <summary>Configured lists, validated at start-up, in the form they are compared in.</summary>
    public static IReadOnlyList<string> NormalizeAll(IEnumerable<string> origins) => origins.Select(Normalize).OfType<string>().Distinct(StringComparer.Ordinal).ToArray();

    public const string Rule = "an origin is scheme://host[:port] with http or https and nothing after it, e.g. https://app.example.com";
}
