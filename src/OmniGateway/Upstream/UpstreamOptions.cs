using Microsoft.Extensions.Options;

namespace OmniGateway.Upstream;

public enum UpstreamMode { Live, Simulator }

/// <summary><c>Upstream:</c> — where the model lives and how long the gateway waits for it.</summary>
public sealed class UpstreamOptions
{
    public string BaseUrl { get; set; } = "https://www.dmxapi.cn";
    public string? ApiKey { get; set; }
    public string? ApiKeyFile { get; set; }

    /// <summary>The upstream's <c>Authorization</c> value; <c>{key}</c> is replaced by the key. The seed sends the raw key.</summary>
    public string AuthorizationFormat { get; set; } = "{key}";

    /// <summary>Unset: <see cref="UpstreamMode.Live"/> when a key is configured, otherwise the simulator.</summary>
    public UpstreamMode? Mode { get; set; }

    public TimeSpan ConnectTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>From sending the request to the upstream's first complete SSE event.</summary>
    public TimeSpan FirstByteTimeout { get; set; } = TimeSpan.FromSeconds(60);

    /// <summary>Longest silence between two reads once the stream has begun.</summary>
    public TimeSpan IdleTimeout { get; set; } = TimeSpan.FromSeconds(60);

    /// <summary>Hard cap on one response, however lively.</summary>
    public TimeSpan MaxStreamDuration { get; set; } = TimeSpan.FromMinutes(30);

    /// <summary>Several upstreams (endpoints or keys), spread by weight; when set they replace <see cref="BaseUrl"/> and the key.</summary>
    public List<UpstreamDestinationOptions> Destinations { get; set; } = [];

    /// <summary>No new try starts, and no back-off waits, past this long after the first try began.</summary>
    public TimeSpan RetryDeadline { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>Tries per call, the first included.</summary>
    public int MaxAttempts { get; set; } = 4;

    /// <summary>The first back-off; each further one doubles, with jitter (±50 %).</summary>
    public TimeSpan RetryBaseDelay { get; set; } = TimeSpan.FromMilliseconds(200);

    /// <summary>The longest <c>Retry-After</c> the gateway waits out itself; a longer one goes to the client.</summary>
    public TimeSpan MaxRetryAfter { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>Consecutive 429/5xx answers or connection failures that take a destination out.</summary>
    public int FailuresBeforeBackoff { get; set; } = 3;

    /// <summary>How long a failing destination stays out; doubled for each repeat, up to 16×.</summary>
    public TimeSpan DestinationBackoff { get; set; } = TimeSpan.FromSeconds(30);

    public UpstreamMode EffectiveMode => Mode ?? (Destinations.Count > 0 || ResolveKey() is not null ? UpstreamMode.Live : UpstreamMode.Simulator);

    /// <summary>The key from <see cref="ApiKey"/> or the mounted secret <see cref="ApiKeyFile"/>.</summary>
    public string? ResolveKey()
    {
        if (!string.IsNullOrWhiteSpace(ApiKey)) return ApiKey.Trim();
        if (!string.IsNullOrWhiteSpace(ApiKeyFile) && TryReadKeyFile(ApiKeyFile, out var key, out _)) return key;
        return null;
    }

    /// <summary>An empty file is "no key" (simulator mode); an unreadable one is a configuration error, not a crash.</summary>
    internal static bool TryReadKeyFile(string path, out string? key, out string? problem)
    {
        key = null;
        problem = null;
        try
        {
            var text = File.ReadAllText(path).Trim();
            key = text.Length == 0 ? null : text;
            return key is not null;
        }
        catch (Exception exception) when (exception is IOException or UnauthorizedAccessException)
        {
            problem = exception is UnauthorizedAccessException ? "permission denied" : exception.GetType().Name;
            return false;
        }
    }
}

/// <summary><c>Upstream:Destinations:N:</c> — one upstream endpoint and the key it accepts.</summary>
public sealed class UpstreamDestinationOptions
{
    public string? BaseUrl { get; set; }
    public string? ApiKey { get; set; }
    public string? ApiKeyFile { get; set; }

    /// <summary>Share of calls, relative to the other destinations' weights.</summary>
    public int Weight { get; set; } = 1;

    public string? ResolveKey()
    {
        if (!string.IsNullOrWhiteSpace(ApiKey)) return ApiKey.Trim();
        if (!string.IsNullOrWhiteSpace(ApiKeyFile) && UpstreamOptions.TryReadKeyFile(ApiKeyFile, out var key, out _)) return key;
        return null;
    }
}

internal sealed class UpstreamOptionsValidator : IValidateOptions<UpstreamOptions>
{
    public ValidateOptionsResult Validate(string? name, UpstreamOptions options)
    {
        var failures = new List<string>();
        if (BaseUrlProblem("Upstream", options.BaseUrl) is { } baseUrlProblem) failures.Add(baseUrlProblem);
        if (!options.AuthorizationFormat.Contains("{key}", StringComparison.Ordinal))
            failures.Add("Upstream:AuthorizationFormat must contain {key}, e.g. '{key}' or 'Bearer {key}'.");
        if (!string.IsNullOrWhiteSpace(options.ApiKeyFile))
        {
            if (!File.Exists(options.ApiKeyFile)) failures.Add("Upstream:ApiKeyFile names a file that does not exist.");
            else if (!UpstreamOptions.TryReadKeyFile(options.ApiKeyFile, out _, out var problem) && problem is not null)
                failures.Add($"Upstream:ApiKeyFile cannot be read by the gateway's user ({problem}); fix the file's permissions.");
        }
        if (options.Mode == UpstreamMode.Live && options.Destinations.Count == 0 && options.ResolveKey() is null)
            failures.Add("Upstream:Mode is Live but neither Upstream:ApiKey nor Upstream:ApiKeyFile gives a key.");
        ValidateDestinations(options, failures);
        foreach (var (key, value) in new[] { ("ConnectTimeout", options.ConnectTimeout), ("FirstByteTimeout", options.FirstByteTimeout),
                     ("IdleTimeout", options.IdleTimeout), ("MaxStreamDuration", options.MaxStreamDuration), ("RetryDeadline", options.RetryDeadline),
                     ("DestinationBackoff", options.DestinationBackoff) })
        {
            if (value <= TimeSpan.Zero) failures.Add($"Upstream:{key} must be a positive time span such as 00:00:30.");
        }
        if (options.RetryBaseDelay < TimeSpan.Zero) failures.Add("Upstream:RetryBaseDelay must not be negative, e.g. 00:00:00.200.");
        if (options.MaxRetryAfter < TimeSpan.Zero) failures.Add("Upstream:MaxRetryAfter must not be negative, e.g. 00:00:05 (0 never waits out a Retry-After).");
        if (options.MaxAttempts is < 1 or > 10) failures.Add("Upstream:MaxAttempts must be between 1 (no retries) and 10.");
        if (options.FailuresBeforeBackoff < 1) failures.Add("Upstream:FailuresBeforeBackoff must be at least 1.");
        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }

    /// <summary>
    /// An absolute http(s) URL with nothing secret in it: a base URL is logged at start-up and traced with every
    /// call, so credentials in its user-info or query would leak there. The key has its own setting.
    /// </summary>
    private static string? BaseUrlProblem(string name, string? baseUrl) =>
        !Uri.TryCreate(baseUrl, UriKind.Absolute, out var uri) || uri.Scheme is not ("http" or "https")
            ? $"{name}:BaseUrl must be an absolute http(s) URL, e.g. https://www.dmxapi.cn."
            : uri.UserInfo.Length > 0 || uri.Query.Length > 0
                ? $"{name}:BaseUrl must not carry user-info or a query string (it is logged and traced); put the upstream key in {name}:ApiKey or {name}:ApiKeyFile."
                : null;

    private static void ValidateDestinations(UpstreamOptions options, List<string> failures)
    {
        if (options.Destinations.Count == 0) return;
        if (options.Destinations.Count > UpstreamDestinations.MaxCount)
            failures.Add($"Upstream:Destinations lists {options.Destinations.Count} destinations; at most {UpstreamDestinations.MaxCount} are supported.");
        if (!string.IsNullOrWhiteSpace(options.ApiKey) || !string.IsNullOrWhiteSpace(options.ApiKeyFile))
            failures.Add("Upstream:ApiKey/Upstream:ApiKeyFile is set, but Upstream:Destinations replaces it: give each destination its own ApiKey or ApiKeyFile and remove the single key.");
        for (var i = 0; i < options.Destinations.Count; i++)
        {
            var destination = options.Destinations[i];
            var name = $"Upstream:Destinations:{i}";
            if (BaseUrlProblem(name, destination.BaseUrl) is { } baseUrlProblem) failures.Add(baseUrlProblem);
            var hasKey = !string.IsNullOrWhiteSpace(destination.ApiKey);
            var hasFile = !string.IsNullOrWhiteSpace(destination.ApiKeyFile);
            if (hasKey && hasFile) failures.Add($"{name} sets both ApiKey and ApiKeyFile; keep one.");
            else if (!hasKey && !hasFile) failures.Add($"{name} needs its upstream key: set {name}:ApiKey or {name}:ApiKeyFile.");
            else if (hasFile)
            {
                if (!File.Exists(destination.ApiKeyFile)) failures.Add($"{name}:ApiKeyFile names a file that does not exist.");
                else if (!UpstreamOptions.TryReadKeyFile(destination.ApiKeyFile!, out _, out var problem))
                    failures.Add(problem is null ? $"{name}:ApiKeyFile is empty; put the destination's key in it."
                        : $"{name}:ApiKeyFile cannot be read by the gateway's user ({problem}); fix the file's permissions.");
            }
            if (destination.Weight is < 1 or > 1000) failures.Add($"{name}:Weight must be a whole number from 1 to 1000 (a share relative to the other destinations).");
        }
    }
}
