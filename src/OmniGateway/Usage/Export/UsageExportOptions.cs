using Microsoft.Extensions.Options;

namespace OmniGateway.Usage.Export;

/// <summary><c>Usage:Export</c>: sinks that receive every stored usage record, from a durable outbox.</summary>
public sealed class UsageExportOptions
{
    public List<WebhookSinkOptions> Webhooks { get; set; } = [];

    /// <summary>First wait after a failed delivery; doubled per further failure up to <see cref="RetryMaxDelay"/>.</summary>
    public TimeSpan RetryInitialDelay { get; set; } = TimeSpan.FromSeconds(1);

    public TimeSpan RetryMaxDelay { get; set; } = TimeSpan.FromMinutes(1);

    /// <summary>How often an idle sink looks for records it was not told about (another instance's, on Postgres).</summary>
    public TimeSpan PollInterval { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>Readiness says degraded once the oldest undelivered record is older than this.</summary>
    public TimeSpan LagThreshold { get; set; } = TimeSpan.FromMinutes(5);
}

/// <summary><c>Usage:Export:Webhooks:&lt;n&gt;</c>: one HTTP receiver.</summary>
public sealed class WebhookSinkOptions
{
    /// <summary>The sink's identity in the outbox and in metrics; keep it when the URL changes. Default: webhook-&lt;n&gt;.</summary>
    public string? Name { get; set; }

    public string? Url { get; set; }

    /// <summary>Signs each POST (HMAC-SHA256, <c>x-omnigateway-signature</c>); without one the POST is unsigned.</summary>
    public string? Secret { get; set; }

    /// <summary>Records per POST (a JSON array).</summary>
    public int BatchSize { get; set; } = 100;

    public TimeSpan Timeout { get; set; } = TimeSpan.FromSeconds(10);
}

internal sealed class UsageExportOptionsValidator : IValidateOptions<UsageExportOptions>
{
    public ValidateOptionsResult Validate(string? name, UsageExportOptions options)
    {
        var failures = new List<string>();
        var names = new HashSet<string>(StringComparer.Ordinal);
        for (var i = 0; i < options.Webhooks.Count; i++)
        {
            var sink = options.Webhooks[i];
            var key = $"Usage:Export:Webhooks:{i}";
            if (!Uri.TryCreate(sink.Url, UriKind.Absolute, out var url) || url.Scheme is not ("http" or "https"))
                failures.Add($"{key}:Url must be an absolute http or https URL (got '{sink.Url}').");
            else if (!string.IsNullOrEmpty(url.UserInfo))
                failures.Add($"{key}:Url must not carry credentials; use {key}:Secret to sign the POSTs.");
            if (sink.BatchSize is < 1 or > 1000)
                failures.Add($"{key}:BatchSize must be between 1 and 1000 (got {sink.BatchSize}).");
            if (sink.Timeout <= TimeSpan.Zero)
                failures.Add($"{key}:Timeout must be a positive time span such as 00:00:10.");
            if (sink.Secret is { Length: > 0 and < 16 })
                failures.Add($"{key}:Secret must be at least 16 characters (a random string; generate one with openssl rand -hex 32).");
            var sinkName = SinkName(sink, i);
            if (sinkName.Length > 64 || !sinkName.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.'))
                failures.Add($"{key}:Name must be 1 to 64 letters, digits, '-', '_' or '.' (got '{sinkName}').");
            else if (!names.Add(sinkName))
                failures.Add($"{key}:Name '{sinkName}' is used by another webhook; each sink needs its own.");
        }
        if (options.RetryInitialDelay <= TimeSpan.Zero || options.RetryMaxDelay < options.RetryInitialDelay)
            failures.Add("Usage:Export:RetryInitialDelay must be positive and Usage:Export:RetryMaxDelay at least as long.");
        if (options.PollInterval <= TimeSpan.Zero)
            failures.Add("Usage:Export:PollInterval must be a positive time span such as 00:00:01.");
        if (options.LagThreshold <= TimeSpan.Zero)
            failures.Add("Usage:Export:LagThreshold must be a positive time span such as 00:05:00.");
        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }

    public static string SinkName(WebhookSinkOptions sink, int index) => string.IsNullOrWhiteSpace(sink.Name) ? $"webhook-{index}" : sink.Name;
}
