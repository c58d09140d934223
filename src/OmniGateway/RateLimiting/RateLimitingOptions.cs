using Microsoft.Extensions.Options;

namespace OmniGateway.RateLimiting;

/// <summary><c>RateLimiting:</c> — where requests per minute and open streams are counted.</summary>
public sealed class RateLimitingOptions
{
    public const string Memory = "Memory";
    public const string Redis = "Redis";

    /// <summary><c>Memory</c> (per instance) or <c>Redis</c> (<c>ConnectionStrings:Redis</c>, shared by every instance).</summary>
    public string Provider { get; set; } = Memory;

    /// <summary>How long a stream slot held in Redis lives without renewal: an instance that dies frees its slots within it.</summary>
    public TimeSpan StreamLeaseTtl { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>Prefix of every Redis key, so several gateways may share one Redis.</summary>
    public string RedisKeyPrefix { get; set; } = "omnigateway:";

    public bool UsesRedis => string.Equals(Provider, Redis, StringComparison.OrdinalIgnoreCase);
}

internal sealed class RateLimitingOptionsValidator(IConfiguration configuration) : IValidateOptions<RateLimitingOptions>
{
    public ValidateOptionsResult Validate(string? name, RateLimitingOptions options)
    {
        var failures = new List<string>();
        if (!options.UsesRedis && !string.Equals(options.Provider, RateLimitingOptions.Memory, StringComparison.OrdinalIgnoreCase))
            failures.Add($"RateLimiting:Provider must be Memory or Redis, not '{Errors.GatewayErrors.Truncate(options.Provider, 32)}'.");
        if (options.UsesRedis && string.IsNullOrWhiteSpace(configuration.GetConnectionString("Redis")))
            failures.Add("ConnectionStrings:Redis is required when RateLimiting:Provider is Redis (for example 'redis:6379').");
        if (options.StreamLeaseTtl < TimeSpan.FromSeconds(3))
            failures.Add("RateLimiting:StreamLeaseTtl must be at least 00:00:03.");
        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }
}
