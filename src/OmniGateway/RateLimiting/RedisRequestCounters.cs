using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Options;
using StackExchange.Redis;

namespace OmniGateway.RateLimiting;

/// <summary>
/// <c>RateLimiting:Provider=Redis</c>: requests per minute and open streams counted in Redis, shared by
/// every instance, with one Lua script (one round trip) per admission and Redis's own clock (tokens per
/// minute and budget reservations: the second half of this class, <c>RedisTokenCounts.cs</c>). A stream
/// slot is a lease with an expiry, renewed while the stream is open, so an instance that dies frees its
/// slots within <see cref="RateLimitingOptions.StreamLeaseTtl"/>. Redis unreachable: fail-open on this
/// instance's counts, said once in the log, in <c>/readyz</c> and in <c>omnigateway_ratelimit_shared</c>;
/// the multiplexer reconnects by itself and the shared counts resume.
/// </summary>
public sealed partial class RedisRequestCounters : IRequestCounters, IAsyncDisposable
{
    // KEYS[1] requests of the last minute (sorted set, score = ms), KEYS[2] stream leases (score = expiry ms).
    // ARGV: requests-per-minute limit (0 = none), stream limit (0 = none), member id, lease ttl ms.
    // Returns {0, 0} admitted, {1, retry-after ms} minute full, {2, retry-after ms} streams full.
    private const string AdmitScript = """
        local t = redis.call('TIME')
        local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
        local rpm = tonumber(ARGV[1])
        local streams = tonumber(ARGV[2])
        local ttl = tonumber(ARGV[4])
        if rpm > 0 then
          redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - 60000)
          if redis.call('ZCARD', KEYS[1]) >= rpm then
            local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
            return {1, tonumber(oldest[2]) + 60000 - now}
          end
        end
        if streams > 0 then
          redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now)
          if redis.call('ZCARD', KEYS[2]) >= streams then return {2, 1000} end
          redis.call('ZADD', KEYS[2], now + ttl, ARGV[3])
          redis.call('PEXPIRE', KEYS[2], ttl * 2)
        end
        if rpm > 0 then
          redis.call('ZADD', KEYS[1], now, ARGV[3])
          redis.call('PEXPIRE', KEYS[1], 61000)
        end
        return {0, 0}
        """;

    private const string RenewScript = """
        local t = redis.call('TIME')
        local expiry = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000) + tonumber(ARGV[2])
        redis.call('ZADD', KEYS[1], 'XX', expiry, ARGV[1])
        redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[2]) * 2)
        return 1
        """;

    private readonly MemoryRequestCounters _fallback;
    private readonly RateLimitingOptions _options;
    private readonly ILogger<RedisRequestCounters> _logger;
    private readonly ConnectionMultiplexer _redis;
    private readonly ConcurrentDictionary<Lease, byte> _leases = new();
    private readonly CancellationTokenSource _stopping = new();
    private readonly Task _renewer;
    private readonly Counter<long> _fallbacks;
    private int _shared = 1;

    public RedisRequestCounters(MemoryRequestCounters fallback, IOptions<RateLimitingOptions> options, IConfiguration configuration,
        IMeterFactory meterFactory, ILogger<RedisRequestCounters> logger)
    {
        (_fallback, _options, _logger) = (fallback, options.Value, logger);
        var redisOptions = ConfigurationOptions.Parse(configuration.GetConnectionString("Redis")!); // required by the options validator
        redisOptions.AbortOnConnectFail = false; // start without Redis, reconnect by itself
        _redis = ConnectionMultiplexer.Connect(redisOptions);
        var meter = meterFactory.Create(Observability.GatewayMetrics.MeterName);
        meter.CreateObservableGauge("omnigateway.ratelimit.shared", () => Volatile.Read(ref _shared),
            description: "1 while the rate limits are counted in Redis, 0 while they fall back to this instance's counts");
        _fallbacks = meter.CreateCounter<long>("omnigateway.ratelimit.fallbacks", description: "Admissions counted on this instance because Redis was unreachable");
        _renewer = Task.Run(RenewLoopAsync);
    }

    /// <summary>False while Redis is unreachable (a call failed, or no connection is up) and counts are this instance's own.</summary>
    public bool Shared => Volatile.Read(ref _shared) == 1 && _redis.IsConnected;

    public async ValueTask<RequestCount> TryStartAsync(string tenantId, int? requestsPerMinute, int? concurrentStreams)
    {
        var member = Guid.NewGuid().ToString("N");
        var streamsKey = Key(tenantId, "streams");
        RedisResult result;
        try
        {
            result = await _redis.GetDatabase().ScriptEvaluateAsync(AdmitScript, [Key(tenantId, "rpm"), streamsKey],
                [requestsPerMinute ?? 0, concurrentStreams ?? 0, member, (long)_options.StreamLeaseTtl.TotalMilliseconds]);
        }
        catch (Exception exception) when (exception is RedisException or TimeoutException)
        {
            Unreachable(exception);
            _fallbacks.Add(1);
            return _fallback.TryStart(tenantId, requestsPerMinute, concurrentStreams);
        }
        Reachable();
        var answer = (long[])result!; // the script always returns two integers
        if (answer[0] != 0)
            return new RequestCount(answer[0] == 1 ? RequestCount.RequestsPerMinute : RequestCount.ConcurrentStreams,
                (int)Math.Max(1, Math.Ceiling(answer[1] / 1000.0)), null);
        if (concurrentStreams is null) return default;
        var lease = new Lease(this, streamsKey, member);
        _leases.TryAdd(lease, 0);
        return new RequestCount(null, 0, lease);
    }

    private RedisKey Key(string tenantId, string kind) => $"{_options.RedisKeyPrefix}{{{tenantId}}}:{kind}"; // one hash slot per tenant

    /// <summary>
    /// Awaited, so the slot is free in Redis before the call's response completes: a caller who starts its next
    /// call on another instance the moment this one ends finds the slot free. If Redis is away the lease expires.
    /// </summary>
    private async ValueTask ReleaseAsync(Lease lease)
    {
        _leases.TryRemove(lease, out _);
        try { await _redis.GetDatabase().SortedSetRemoveAsync(lease.Key, lease.Member); }
        catch (RedisException) { }
    }

    /// <summary>Where nothing can wait (a synchronous dispose): fire and forget.</summary>
    private void Release(Lease lease)
    {
        _leases.TryRemove(lease, out _);
        try { _redis.GetDatabase().SortedSetRemove(lease.Key, lease.Member, CommandFlags.FireAndForget); }
        catch (RedisException) { }
    }

    private async Task RenewLoopAsync()
    {
        using var timer = new PeriodicTimer(_options.StreamLeaseTtl / 3);
        try
        {
            while (await timer.WaitForNextTickAsync(_stopping.Token))
            {
                var ttl = (long)_options.StreamLeaseTtl.TotalMilliseconds;
                try
                {
                    foreach (var lease in _leases.Keys) await _redis.GetDatabase().ScriptEvaluateAsync(RenewScript, [lease.Key], [lease.Member, ttl]);
                    await RenewReservationsAsync(ttl);
                }
                catch (Exception exception) when (exception is RedisException or TimeoutException) { Unreachable(exception); }
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    private void Unreachable(Exception exception)
    {
        if (Interlocked.Exchange(ref _shared, 0) == 1) Log.RedisUnreachable(_logger, exception.GetType().Name);
    }

    private void Reachable()
    {
        if (Interlocked.Exchange(ref _shared, 1) == 0) Log.RedisBack(_logger);
    }

    public async ValueTask DisposeAsync()
    {
        await _stopping.CancelAsync();
        await _renewer;
        await _redis.DisposeAsync();
        _stopping.Dispose();
    }

    private sealed class Lease(RedisRequestCounters owner, RedisKey key, string member) : IDisposable, IAsyncDisposable
    {
        private int _released;
        public RedisKey Key { get; } = key;
        public string Member { get; } = member;

        public ValueTask DisposeAsync() => Interlocked.Exchange(ref _released, 1) == 0 ? owner.ReleaseAsync(this) : ValueTask.CompletedTask;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _released, 1) == 0) owner.Release(this);
        }
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 6100, Level = LogLevel.Warning,
            Message = "Redis is unreachable ({ExceptionType}): requests and tokens per minute, streams and budget reservations are counted per instance until it is back (fail-open)")]
        public static partial void RedisUnreachable(ILogger logger, string exceptionType);

        [LoggerMessage(EventId = 6101, Level = LogLevel.Information, Message = "Redis is reachable again: requests and tokens per minute, streams and budget reservations are shared by every instance")]
        public static partial void RedisBack(ILogger logger);
    }
}

/// <summary><c>/readyz</c>: Degraded (still 200, still serving) while Redis is unreachable and counts are per instance.</summary>
internal sealed class SharedCountsHealthCheck(IRequestCounters counters) : IHealthCheck
{
    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default) =>
        Task.FromResult(counters is RedisRequestCounters redis && !redis.Shared
            ? HealthCheckResult.Degraded("Redis is unreachable: rate limits fall back to per-instance counts (fail-open) until it is back")
            : HealthCheckResult.Healthy(counters is RedisRequestCounters ? "requests and tokens per minute, streams and budget reservations counted in Redis, shared by every instance" : "per-instance counts (RateLimiting:Provider=Memory)"));
}

/// <summary>Connects to Redis while the host starts, not on the first tenant's call (which would fail open while the connection is made).</summary>
internal sealed class SharedCountsConnector(IServiceProvider services) : IHostedService
{
    public Task StartAsync(CancellationToken cancellationToken)
    {
        services.GetRequiredService<IRequestCounters>();
        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
