using System.Collections.Concurrent;
using OmniGateway.Errors;
using OmniGateway.Tenants;

namespace OmniGateway.RateLimiting;

/// <summary>
/// <c>Limits.TokensPerMinute</c>: the tokens each tenant's calls reported over the last minute, in
/// ten-second buckets. A call may start while the sum is under the limit; one call can overshoot it,
/// as its size is unknown until it ends — the same trade as the budgets, at minute scale. Per instance.
/// </summary>
public sealed class TokensPerMinute(TimeProvider time)
{
    private const int Buckets = 6;
    private static readonly long BucketTicks = TimeSpan.FromSeconds(10).Ticks;

    private readonly ConcurrentDictionary<string, Window> _windows = new(StringComparer.Ordinal);

    public GatewayError? Admit(TenantContext tenant)
    {
        if (tenant.Limits.TokensPerMinute is not { } limit || !_windows.TryGetValue(tenant.TenantId, out var window)) return null;
        var now = time.GetUtcNow().UtcTicks / BucketTicks;
        var (used, oldestBucket) = window.Sum(now);
        if (used < limit) return null;
        // The oldest bucket that still counts leaves the minute this many seconds from now.
        var retryAfter = (int)Math.Ceiling(TimeSpan.FromTicks((oldestBucket + Buckets) * BucketTicks - time.GetUtcNow().UtcTicks).TotalSeconds);
        return GatewayErrors.RateLimited("tokens_per_minute_exceeded",
            $"Your tenant used {used} of its {limit} tokens per minute. Retry after the time given in Retry-After.", retryAfter);
    }

    public void Add(string tenantId, long tokens)
    {
        if (tokens <= 0) return;
        _windows.GetOrAdd(tenantId, static _ => new Window()).Add(time.GetUtcNow().UtcTicks / BucketTicks, tokens);
    }

    private sealed class Window
    {
        private readonly long[] _bucketIds = new long[Buckets];
        private readonly long[] _tokens = new long[Buckets];
        private readonly Lock _lock = new();

        public void Add(long bucket, long tokens)
        {
            lock (_lock)
            {
                var slot = (int)(bucket % Buckets);
                if (_bucketIds[slot] != bucket) (_bucketIds[slot], _tokens[slot]) = (bucket, 0);
                _tokens[slot] += tokens;
            }
        }

        public (long Used, long OldestBucket) Sum(long now)
        {
            lock (_lock)
            {
                long used = 0, oldest = now;
                for (var slot = 0; slot < Buckets; slot++)
                {
                    if (_bucketIds[slot] <= now - Buckets || _tokens[slot] == 0) continue;
                    used += _tokens[slot];
                    oldest = Math.Min(oldest, _bucketIds[slot]);
                }
                return (used, oldest);
            }
        }
    }
}
