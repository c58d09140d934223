using System.Collections.Concurrent;
using System.Diagnostics;
using Microsoft.Extensions.Logging.Abstractions;
using OmniGateway.Usage;
using OmniGateway.Usage.Storage;
using Xunit.Abstractions;

namespace OmniGateway.IntegrationTests.Usage;

/// <summary>
/// Group commit as a behaviour: stream ends that arrive together share commits, and every one of them
/// is stored. How long a stream end waits is measured in bench/, not asserted here; this test prints
/// what it saw for the curious.
/// </summary>
public sealed class GroupCommitTests(ITestOutputHelper output)
{
    [Theory, EveryStore]
    public async Task ConcurrentStreamEnds_ShareCommits_AndEveryRecordIsStored(string provider)
    {
        await using var store = await TestStore.CreateAsync(provider);
        await using var database = await store.OpenDatabaseAsync();
        var options = store.UsageOptions;
        var usageStore = new SqlUsageStore(database, TimeProvider.System);
        await using var ledger = new GroupCommitLedger(usageStore, new TokenBudgets(TimeProvider.System), options, TimeProvider.System,
            NullLogger<GroupCommitLedger>.Instance);
        await ledger.StartAsync(CancellationToken.None);

        const int callers = 300, each = 5;
        var latencies = new ConcurrentBag<double>();
        // A stream end with no commit under way commits on its own thread, and SQLite's commit blocks that thread through
        // its fsync. On a cold pool of two threads (this machine's cores) the other callers then hardly get a thread to
        // queue on while it runs, and every record committed alone whenever the disk's fsync was fast (0.4 ms): the test
        // failed five runs in six with no change to the ledger. A gateway under load has the pool grown (bench/: 7.7
        // records per commit), so the callers get the threads a loaded process has.
        ThreadPool.GetMinThreads(out var workers, out var io);
        ThreadPool.SetMinThreads(Math.Max(workers, 16), io);
        var clock = Stopwatch.StartNew();
        try
        {
            await Parallel.ForAsync(0, callers, new ParallelOptions { MaxDegreeOfParallelism = callers }, async (s, _) =>
            {
                for (var n = 0; n < each; n++)
                {
                    var started = Stopwatch.GetTimestamp();
                    await ledger.AppendAsync(Record($"closed-{s}-{n}", s), CancellationToken.None);
                    latencies.Add(Stopwatch.GetElapsedTime(started).TotalMilliseconds);
                }
            });
        }
        finally
        {
            ThreadPool.SetMinThreads(workers, io);
        }
        Report(provider, $"{callers} callers back to back", latencies.ToArray(), clock.Elapsed, ledger);

        Assert.Equal(callers * each, ledger.RecordsCommitted);
        Assert.True(ledger.Commits < ledger.RecordsCommitted / 2, $"{ledger.RecordsCommitted} records took {ledger.Commits} commits: ends are not sharing commits");
        Assert.Equal(callers * each, (await usageStore.QueryAsync(new UsageQuery(null, null, null, null, UsageGranularity.Total), CancellationToken.None)).Sum(r => r.Requests));
    }

    private static UsageRecord Record(string id, int stream) => new(id, stream % 2 == 0 ? "alpha" : "beta", "key_measure", LedgerGateway.Model, null, "text",
        DateTimeOffset.UtcNow, 12.5, 480.0, UsageOutcome.Completed, "resp_" + id,
        new UpstreamUsage(100 + stream, 0, 50, 0, 150 + stream,
            $$"""{"input_tokens":{{100 + stream}},"input_tokens_details":{"cached_tokens":0},"output_tokens":50,"output_tokens_details":{"reasoning_tokens":0},"total_tokens":{{150 + stream}}}"""));

    private void Report(string provider, string scenario, double[] latencies, TimeSpan elapsed, GroupCommitLedger ledger)
    {
        Array.Sort(latencies);
        var (commits, records) = (ledger.Commits, ledger.RecordsCommitted);
        var perRecord = ledger.CommitTime.TotalMilliseconds / Math.Max(1, records);
        output.WriteLine($"{provider,-8} {scenario}: {latencies.Length / elapsed.TotalSeconds:F0} stream ends/s; stream end waits p50 {Percentile(latencies, 0.50):F3} ms, " +
                         $"p99 {Percentile(latencies, 0.99):F3} ms, max {latencies[^1]:F3} ms; {records} records in {commits} commits " +
                         $"({records / (double)Math.Max(1, commits):F1} per commit, {perRecord:F3} ms of commit time per record)");
    }

    private static double Percentile(double[] sorted, double p) => sorted[Math.Min(sorted.Length - 1, (int)(p * sorted.Length))];
}
