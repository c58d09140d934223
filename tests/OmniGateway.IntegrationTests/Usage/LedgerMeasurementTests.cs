using System.Collections.Concurrent;
using System.Diagnostics;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using OmniGateway.Usage;
using OmniGateway.Usage.Storage;
using Xunit.Abstractions;

namespace OmniGateway.IntegrationTests.Usage;

/// <summary>
/// Measurements, printed, never asserted (timings on a shared CI machine prove nothing): what durable
/// accounting costs a stream's end, alone and with hundreds of streams ending together, and what it
/// costs end to end against a ledger that stores nothing.
/// </summary>
public sealed class LedgerMeasurementTests(ITestOutputHelper output)
{
    [Theory]
    [MemberData(nameof(TestStore.Providers), MemberType = typeof(TestStore))]
    public async Task StreamEndCost_OfDurableAppend_AloneAndUnderConcurrency(string provider)
    {
        await using var store = await TestStore.CreateAsync(provider);
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(store.Settings).Build();
        var options = Options.Create(configuration.GetSection("Usage").Get<UsageOptions>() ?? new UsageOptions());
        await using var database = new UsageDatabase(options, configuration, TimeProvider.System);
        await database.MigrateAsync(CancellationToken.None);
        var usageStore = new SqlUsageStore(database, TimeProvider.System);
        await using var ledger = new GroupCommitLedger(usageStore, new TokenBudgets(TimeProvider.System, options), options, TimeProvider.System,
            NullLogger<GroupCommitLedger>.Instance);
        await ledger.StartAsync(CancellationToken.None);

        // Alone: every stream end pays a whole commit (one fsync), nothing to share it with.
        var alone = new double[200];
        var aloneClock = Stopwatch.StartNew();
        for (var n = 0; n < alone.Length; n++)
        {
            var started = Stopwatch.GetTimestamp();
            await ledger.AppendAsync(Record($"alone-{n}", n), CancellationToken.None);
            alone[n] = Stopwatch.GetElapsedTime(started).TotalMilliseconds;
        }
        Report(provider, "1 stream, ends one at a time", alone, alone.Length, aloneClock.Elapsed, ledger, 0, TimeSpan.Zero, 0);

        // Open loop, as in production: N streams in flight, each ending after 0.2-1.2 s, then the next one starts.
        foreach (var streams in new[] { 100, 300, 1000 })
        {
            var (commits, time, records) = (ledger.Commits, ledger.CommitTime, ledger.RecordsCommitted);
            var latencies = new ConcurrentBag<double>();
            var clock = Stopwatch.StartNew();
            await Parallel.ForAsync(0, streams, new ParallelOptions { MaxDegreeOfParallelism = streams }, async (s, _) =>
            {
                var random = new Random(s);
                for (var n = 0; clock.Elapsed < TimeSpan.FromSeconds(4); n++)
                {
                    await Task.Delay(random.Next(200, 1200), CancellationToken.None);
                    var started = Stopwatch.GetTimestamp();
                    await ledger.AppendAsync(Record($"open-{streams}-{s}-{n}", s), CancellationToken.None);
                    latencies.Add(Stopwatch.GetElapsedTime(started).TotalMilliseconds);
                }
            });
            Report(provider, $"{streams} streams in flight", latencies.ToArray(), latencies.Count, clock.Elapsed, ledger, commits, time, records);
        }

        // Closed loop: 512 callers appending back to back, the most the writer can take.
        {
            var (commits, time, records) = (ledger.Commits, ledger.CommitTime, ledger.RecordsCommitted);
            var latencies = new ConcurrentBag<double>();
            var clock = Stopwatch.StartNew();
            await Parallel.ForAsync(0, 512, new ParallelOptions { MaxDegreeOfParallelism = 512 }, async (s, _) =>
            {
                for (var n = 0; n < 10; n++)
                {
                    var started = Stopwatch.GetTimestamp();
                    await ledger.AppendAsync(Record($"closed-{s}-{n}", s), CancellationToken.None);
                    latencies.Add(Stopwatch.GetElapsedTime(started).TotalMilliseconds);
                }
            });
            Report(provider, "512 callers back to back (saturation)", latencies.ToArray(), latencies.Count, clock.Elapsed, ledger, commits, time, records);
        }
        var expected = ledger.RecordsCommitted;
        Assert.Equal(expected, (await usageStore.QueryAsync(new UsageQuery(null, null, null, null, UsageGranularity.Total), CancellationToken.None)).Sum(r => r.Requests));
    }

    [Theory]
    [MemberData(nameof(TestStore.Providers), MemberType = typeof(TestStore))]
    public async Task EndToEnd_StreamsPerSecond_WithLedger_AgainstOneThatStoresNothing(string provider)
    {
        const int streams = 600, concurrency = 200;
        foreach (var durable in new[] { false, true, false, true })
        {
            await using var store = await TestStore.CreateAsync(provider);
            await using var gateway = new LedgerGateway(store, settings: new Dictionary<string, string?> { ["Simulator:EventDelay"] = "00:00:00" },
                services: durable ? null : s => s.AddSingleton<IUsageLedger, DiscardingLedger>());
            using var client = gateway.Client(LedgerGateway.AlphaKey);
            await StreamClient.PostAsync(client, StreamClient.Request("warm-up"));

            var clock = Stopwatch.StartNew();
            var completed = 0;
            await Parallel.ForAsync(0, streams, new ParallelOptions { MaxDegreeOfParallelism = concurrency }, async (i, ct) =>
            {
                if ((await StreamClient.PostAsync(client, StreamClient.Request($"question {i}"), cancellationToken: ct)).SawCompleted)
                    Interlocked.Increment(ref completed);
            });
            clock.Stop();
            output.WriteLine($"{provider,-8} {(durable ? "durable ledger" : "no ledger     ")}: {completed}/{streams} streams, {concurrency} concurrent, " +
                             $"{clock.Elapsed.TotalMilliseconds / streams * concurrency:F2} ms per stream, {streams / clock.Elapsed.TotalSeconds:F0} streams/s");
        }
    }

    private static UsageRecord Record(string id, int stream) => new(id, stream % 2 == 0 ? "alpha" : "beta", "key_measure", LedgerGateway.Model, null, "text",
        DateTimeOffset.UtcNow, 12.5, 480.0, UsageOutcome.Completed, "resp_" + id,
        new UpstreamUsage(100 + stream, 0, 50, 0, 150 + stream,
            $$"""{"input_tokens":{{100 + stream}},"input_tokens_details":{"cached_tokens":0},"output_tokens":50,"output_tokens_details":{"reasoning_tokens":0},"total_tokens":{{150 + stream}}}"""));

    private void Report(string provider, string scenario, double[] latencies, int count, TimeSpan elapsed, GroupCommitLedger ledger,
        long commitsBefore, TimeSpan commitTimeBefore, long recordsBefore)
    {
        Array.Sort(latencies);
        var commits = ledger.Commits - commitsBefore;
        var records = ledger.RecordsCommitted - recordsBefore;
        var perRecord = (ledger.CommitTime - commitTimeBefore).TotalMilliseconds / Math.Max(1, records);
        output.WriteLine($"{provider,-8} {scenario}: {count / elapsed.TotalSeconds:F0} stream ends/s; stream end waits p50 {Percentile(latencies, 0.50):F3} ms, " +
                         $"p99 {Percentile(latencies, 0.99):F3} ms, max {latencies[^1]:F3} ms; {records} records in {commits} commits " +
                         $"({records / (double)Math.Max(1, commits):F1} per commit, {perRecord:F3} ms of commit time per record)");
    }

    private static double Percentile(double[] sorted, double p) => sorted[Math.Min(sorted.Length - 1, (int)(p * sorted.Length))];

    /// <summary>The baseline: a ledger that acknowledges at once and keeps nothing.</summary>
    private sealed class DiscardingLedger : IUsageLedger
    {
        public ValueTask AppendAsync(UsageRecord record, CancellationToken cancellationToken) => ValueTask.CompletedTask;
    }
}
