using System.Threading.RateLimiting;

namespace OmniGateway.RateLimiting;

/// <summary>Where requests per minute and open streams are counted: this instance, or Redis for all of them.</summary>
public interface IRequestCounters
{
    /// <summary>Takes a requests-per-minute permit and a stream slot (held by the result until disposed), or names the limit that refused.</summary>
    ValueTask<RequestCount> TryStartAsync(string tenantId, int? requestsPerMinute, int? concurrentStreams);
}

/// <summary>Admitted (<see cref="RefusedLimit"/> null, holding <see cref="Slot"/>), or refused by one limit for <see cref="RetryAfterSeconds"/>.</summary>
public readonly record struct RequestCount(string? RefusedLimit, int RetryAfterSeconds, IDisposable? Slot)
{
    public const string RequestsPerMinute = "requests_per_minute";
    public const string ConcurrentStreams = "concurrent_streams";
}

/// <summary>
/// Per-instance counts with the framework's limiters, asked one at a time so a refusal knows which limit
/// refused. Partitions are keyed by the limit too, so a changed limit starts a fresh count at once.
/// </summary>
public sealed class MemoryRequestCounters : IRequestCounters
{
    private const int SegmentsPerMinute = 6;

    private readonly PartitionedRateLimiter<(string Tenant, int Limit)> _requestsPerMinute = PartitionedRateLimiter.Create<(string Tenant, int Limit), (string, int)>(
        key => RateLimitPartition.GetSlidingWindowLimiter(key, static k => new SlidingWindowRateLimiterOptions
        {
            PermitLimit = k.Item2,
            Window = TimeSpan.FromMinutes(1),
            SegmentsPerWindow = SegmentsPerMinute,
            QueueLimit = 0,
        }));

    private readonly PartitionedRateLimiter<(string Tenant, int Limit)> _concurrentStreams = PartitionedRateLimiter.Create<(string Tenant, int Limit), (string, int)>(
        key => RateLimitPartition.GetConcurrencyLimiter(key, static k => new ConcurrencyLimiterOptions { PermitLimit = k.Item2, QueueLimit = 0 }));

    public ValueTask<RequestCount> TryStartAsync(string tenantId, int? requestsPerMinute, int? concurrentStreams) =>
        ValueTask.FromResult(TryStart(tenantId, requestsPerMinute, concurrentStreams));

    public RequestCount TryStart(string tenantId, int? requestsPerMinute, int? concurrentStreams)
    {
        if (requestsPerMinute is { } perMinute)
        {
            using var permit = _requestsPerMinute.AttemptAcquire((tenantId, perMinute));
            // A sliding window frees permits segment by segment, so one segment is the honest Retry-After.
            if (!permit.IsAcquired) return new RequestCount(RequestCount.RequestsPerMinute, 60 / SegmentsPerMinute, null);
        }
        if (concurrentStreams is not { } streams) return default;
        var slot = _concurrentStreams.AttemptAcquire((tenantId, streams));
        if (slot.IsAcquired) return new RequestCount(null, 0, slot);
        slot.Dispose();
        return new RequestCount(RequestCount.ConcurrentStreams, 1, null);
    }
}
