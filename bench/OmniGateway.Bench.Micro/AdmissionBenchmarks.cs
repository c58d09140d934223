using BenchmarkDotNet.Attributes;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Configuration;
using System.Diagnostics.Metrics;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using OmniGateway.Catalog;
using OmniGateway.RateLimiting;
using OmniGateway.Tenants;
using OmniGateway.Usage;
using OmniGateway.Validation;

namespace OmniGateway.Bench.Micro;

/// <summary>
/// The limiter's cost per call: the gateway's own <see cref="TenantAdmission"/> — requests per minute and a
/// stream slot, tokens per minute and a daily budget, the record's charge, the release — with the counts in
/// memory, and with them in Redis (<c>OMNIGATEWAY_TEST_REDIS</c>=host:port, e.g. from tests/scripts/start-redis.sh;
/// the Redis case is skipped without it): two round trips (requests and streams, then tokens and budgets),
/// the charge and the releases sent without waiting.
/// </summary>
[MemoryDiagnoser]
public class AdmissionBenchmarks : IDisposable
{
    private static readonly TenantContext Tenant = new("bench", "key_bench", [],
        new TenantLimits { RequestsPerMinute = int.MaxValue, ConcurrentStreams = 1_000_000, TokensPerMinute = long.MaxValue, DailyTokens = long.MaxValue / 4 });

    private readonly DefaultHttpContext _context = new();
    private readonly UsageRecord _record = new("r", "bench", "key_bench", "m", null, "text", DateTimeOffset.UnixEpoch, 1, 2, UsageOutcome.Completed, "resp",
        new UpstreamUsage(10, 0, 20, 0, 30, "{}"));
    private ValidatedRequest _request = null!; // set in Setup
    private TenantAdmission _memory = null!;
    private TenantAdmission? _redis;
    private RedisRequestCounters? _redisCounters;

    [GlobalSetup]
    public void Setup()
    {
        _context.Features.Set(Tenant);
        _request = new ValidatedRequest(new ServedModel("m", new ModelOptions()), true, false, null, "text", new byte[64])
        {
            InputTokenEstimate = 30,
            MaxOutputTokens = 1000,
        };
        var meters = new NoMeterFactory();
        _memory = Admission(new MemoryRequestCounters(), meters);
        if (Environment.GetEnvironmentVariable("OMNIGATEWAY_TEST_REDIS") is { Length: > 0 } redis)
        {
            var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?> { ["ConnectionStrings:Redis"] = redis }).Build();
            _redisCounters = new RedisRequestCounters(new MemoryRequestCounters(),
                Options.Create(new RateLimitingOptions { Provider = RateLimitingOptions.Redis, RedisKeyPrefix = $"bench-{Guid.NewGuid():N}:" }),
                configuration, meters, NullLogger<RedisRequestCounters>.Instance);
            _redis = Admission(_redisCounters, meters);
        }
    }

    [GlobalCleanup]
    public void Dispose()
    {
        _redisCounters?.DisposeAsync().AsTask().GetAwaiter().GetResult();
        GC.SuppressFinalize(this);
    }

    private static TenantAdmission Admission(IRequestCounters counters, IMeterFactory meters)
    {
        var tokens = new TokenAdmission(new TokenBudgets(TimeProvider.System), new TokensPerMinute(TimeProvider.System), counters, TimeProvider.System);
        return new TenantAdmission(counters, tokens, new AdmissionMetrics(meters));
    }

    [Benchmark(Baseline = true)]
    public Task InMemory() => AdmitAsync(_memory);

    [Benchmark]
    public Task OnRedis() => _redis is null ? Task.CompletedTask : AdmitAsync(_redis);

    private async Task AdmitAsync(TenantAdmission admission)
    {
        await using var admitted = await admission.AdmitRequestAsync(_context);
        if (admitted.Rejection is not null) throw new InvalidOperationException("refused: " + admitted.Rejection.Code);
        using var tokens = await admission.AdmitTokensAsync(Tenant, _request, _record.RequestId);
        if (tokens.Rejection is not null) throw new InvalidOperationException("refused: " + tokens.Rejection.Code);
        admission.RecordStored(_record);
    }

    private sealed class NoMeterFactory : IMeterFactory
    {
        public Meter Create(MeterOptions options) => new(options);
        public void Dispose() { }
    }
}
