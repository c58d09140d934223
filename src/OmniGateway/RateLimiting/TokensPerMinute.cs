using System.Collections.Concurrent;
using OmniGateway.Errors;
using OmniGateway.Tenants;

namespace OmniGateway.RateLimiting;

/// <summary>
/// <c>Limits.TokensPerMinute</c>: the tokens each tenant's calls were charged over the last minute, in
/// ten-second buckets, plus what the calls in flight have reserved. A call may start while that sum is
/// under the limit; its own reservation then counts against the next. A call is charged when its record
/// is stored: its reported total, or its reservation when the upstream never reported one. Per instance.
/// </summary>
public sealed class TokensPerMinute(TimeProvider time)
{
    private const int Buckets = 6;
    private static readonly long BucketTicks = TimeSpan.FromSeconds(10).Ticks;

    private readonly ConcurrentDictionary<string, Window> _windows = new(StringComparer.Ordinal);

    /// <summary>Refuses, or holds <paramref name="reservation"/> in flight until the returned lease is disposed.</summary>
    public (IDisposable? Lease, GatewayError? Refusal) Admit(TenantContext tenant, long reservation)
    {
        if (tenant.Limits.TokensPerMinute is not { } limit) return (null, null);
        var window = _windows.GetOrAdd(tenant.TenantId, static _ => new Window());
        var now = time.GetUtcNow().UtcTicks / BucketTicks;
        if (window.TryReserve(now, limit, reservation, out var used, out var oldestBucket)) return (new Lease(window, reservation), null);
        // Charged tokens leave the minute with their bucket; with none charged only calls in flight hold it.
        var retryAfter = used == 0 ? 1
            : (int)Math.Ceiling(TimeSpan.FromTicks((oldestBucket + Buckets) * BucketTicks - time.GetUtcNow().UtcTicks).TotalSeconds);
        return (null, GatewayErrors.RateLimited("tokens_per_minute_exceeded",
            $"Your tenant used {used} of its {limit} tokens per minute ({window.InFlight} more are reserved by calls in flight). Retry after the time given in Retry-After.",
            retryAfter));
    }

    public void Add(string tenantId, long tokens)
    {
        if (tokens <= 0) return;
        _windows.GetOrAdd(tenantId, static _ => new Window()).Add(time.GetUtcNow().UtcTicks / BucketTicks, tokens);
    }

    private sealed class Lease(Window window, long reservation) : IDisposable
    {
        private int _released;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _released, 1) == 0) window.Release(reservation);
        }
    }

    private sealed class Window
    {
        private readonly long[] _bucketIds = new long[Buckets];
        private readonly long[] _tokens = new long[Buckets];
        private readonly Lock _lock = new();
        private long _inFlight;

        public long InFlight { get { lock (_lock) return _inFlight; } }

        public bool TryReserve(long now, long limit, long reservation, out long used, out long oldestBucket)
        {
            lock (_lock)
            {
                (used, oldestBucket) = Sum(now);
                if (used + _inFlight >= limit) return false;
                _inFlight += reservation;
                return true;
            }
        }

        public void Release(long reservation)
        {
            lock (_lock) _inFlight -= reservation;
        }

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
