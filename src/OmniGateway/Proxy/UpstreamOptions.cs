using Microsoft.Extensions.Options;

namespace OmniGateway.Proxy;

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

    public UpstreamMode EffectiveMode => Mode ?? (ResolveKey() is null ? UpstreamMode.Simulator : UpstreamMode.Live);

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

internal sealed class UpstreamOptionsValidator : IValidateOptions<UpstreamOptions>
{
    public ValidateOptionsResult Validate(string? name, UpstreamOptions options)
    {
        var failures = new List<string>();
        if (!Uri.TryCreate(options.BaseUrl, UriKind.Absolute, out var uri) || uri.Scheme is not ("http" or "https"))
            failures.Add("Upstream:BaseUrl must be an absolute http(s) URL, e.g. https://www.dmxapi.cn.");
        if (!options.AuthorizationFormat.Contains("{key}", StringComparison.Ordinal))
            failures.Add("Upstream:AuthorizationFormat must contain {key}, e.g. '{key}' or 'Bearer {key}'.");
        if (!string.IsNullOrWhiteSpace(options.ApiKeyFile))
        {
            if (!File.Exists(options.ApiKeyFile)) failures.Add("Upstream:ApiKeyFile names a file that does not exist.");
            else if (!UpstreamOptions.TryReadKeyFile(options.ApiKeyFile, out _, out var problem) && problem is not null)
                failures.Add($"Upstream:ApiKeyFile cannot be read by the gateway's user ({problem}); fix the file's permissions.");
        }
        if (options.Mode == UpstreamMode.Live && options.ResolveKey() is null)
            failures.Add("Upstream:Mode is Live but neither Upstream:ApiKey nor Upstream:ApiKeyFile gives a key.");
        foreach (var (key, value) in new[] { ("ConnectTimeout", options.ConnectTimeout), ("FirstByteTimeout", options.FirstByteTimeout),
                     ("IdleTimeout", options.IdleTimeout), ("MaxStreamDuration", options.MaxStreamDuration) })
        {
            if (value <= TimeSpan.Zero) failures.Add($"Upstream:{key} must be a positive time span such as 00:00:30.");
        }
        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }
}
