using Microsoft.Extensions.Options;
using OmniGateway.Usage;
using OmniGateway.Usage.Export;
using OmniGateway.Usage.Pricing;
using OmniGateway.Usage.Storage;

namespace OmniGateway.IntegrationTests.Usage;

/// <summary>
/// The ledger's insert as bound by the store itself (SQLite: on its own prepared statement, positions
/// resolved once; Postgres: batch parameters): every column holds what the record held, nulls, UTF-8
/// text and fractions included, and on SQLite a record costs no garbage per value (issue 11: the
/// provider's per-parameter binders and UTF-8 copies were an eighth of a stream's allocations).
/// </summary>
public sealed class LedgerStatementTests
{
    [Theory, EveryStore]
    public async Task AppendedRecords_ReadBackColumnForColumn_NullsAndUtf8Included(string provider)
    {
        await using var store = await TestStore.CreateAsync(provider);
        await using var database = await store.OpenDatabaseAsync();
        await using var usageStore = new SqlUsageStore(database, TimeProvider.System);
        var started = DateTimeOffset.FromUnixTimeMilliseconds(DateTimeOffset.UtcNow.ToUnixTimeMilliseconds());
        UsageRecord[] records =
        [
            Full("full-1", started),
            // Every nullable column null: no voice, no first byte, no response id, no usage, no cost, no tags.
            new UsageRecord("bare-2", "beta", "key_b", LedgerGateway.Model, null, "text", started, null, 0.25, UsageOutcome.ClientAborted, null, null),
            Full("full-3", started) with { Voice = "Tina", Tags = new Dictionary<string, string> { ["team"] = "🎧 声音" } },
        ];

        // Twice: the second batch runs on the writer's kept statements, rebound.
        await usageStore.AppendAsync(records[..1], CancellationToken.None);
        await usageStore.AppendAsync(records[1..], CancellationToken.None);

        var stored = (await new LedgerRecords(database).ReadRecordsAsync(null, CancellationToken.None)).Select(r => r.Record).ToArray();
        Assert.Equal(records.Length, stored.Length);
        for (var i = 0; i < records.Length; i++)
        {
            var (expected, actual) = (records[i], stored[i]);
            Assert.Equal(expected with { Tags = UsageRecord.EmptyTags, Cost = null, ReservedCost = null }, actual with { Tags = UsageRecord.EmptyTags, Cost = null, ReservedCost = null });
            Assert.Equal(expected.Tags.OrderBy(t => t.Key), actual.Tags.OrderBy(t => t.Key));
            Assert.Equal(expected.Cost, actual.Cost);
            Assert.Equal(expected.ReservedCost, actual.ReservedCost);
        }
        // The day and month totals the same commit bumped (the upsert's RETURNING row), per tenant.
        var totals = await usageStore.ReadTotalsAsync(started, CancellationToken.None);
        Assert.Equal([("alpha", BudgetPeriod.Day, 2 * 150L), ("alpha", BudgetPeriod.Month, 2 * 150L), ("beta", BudgetPeriod.Day, 0L), ("beta", BudgetPeriod.Month, 0L)],
            totals.Select(t => (t.TenantId, t.Period, t.TotalTokens)).OrderBy(t => t.TenantId).ThenBy(t => t.Period));
    }

    [Theory, EveryStore]
    public async Task AFailedBatch_StoresNoneOfItsRecords_AndTheNextBatchCommitsAlone(string provider)
    {
        await using var store = await TestStore.CreateAsync(provider);
        await using var database = await store.OpenDatabaseAsync();
        await using var usageStore = new SqlUsageStore(database, TimeProvider.System);
        var started = DateTimeOffset.FromUnixTimeMilliseconds(DateTimeOffset.UtcNow.ToUnixTimeMilliseconds());
        await using (var connection = await database.OpenAsync(CancellationToken.None))
        await using (var command = connection.CreateCommand())
        {
            // The batch's second insert fails, after its first has gone in: a disk that fills mid-commit, say.
            command.CommandText = provider == "Sqlite"
                ? "CREATE TRIGGER og_test_poison BEFORE INSERT ON usage_records WHEN NEW.request_id = 'poison-2' BEGIN SELECT RAISE(ABORT, 'poisoned'); END;"
                : """
                  CREATE FUNCTION og_test_poison() RETURNS trigger LANGUAGE plpgsql AS $$
                  BEGIN IF NEW.request_id = 'poison-2' THEN RAISE EXCEPTION 'poisoned'; END IF; RETURN NEW; END $$;
                  CREATE TRIGGER og_test_poison BEFORE INSERT ON usage_records FOR EACH ROW EXECUTE FUNCTION og_test_poison();
                  """;
            await command.ExecuteNonQueryAsync();
        }

        await Assert.ThrowsAnyAsync<Exception>(() => usageStore.AppendAsync([Full("before-1", started), Full("poison-2", started)], CancellationToken.None));
        // The next batch starts on a fresh writer (a pooled connection, on SQLite): nothing of the failed one may ride along.
        var totals = await usageStore.AppendAsync([Full("after-3", started)], CancellationToken.None);

        var stored = (await new LedgerRecords(database).ReadRecordsAsync(null, CancellationToken.None)).Select(r => r.Record.RequestId);
        Assert.Equal(["after-3"], stored);
        Assert.Equal([(BudgetPeriod.Day, 150L), (BudgetPeriod.Month, 150L)], totals.Select(t => (t.Period, t.TotalTokens)).OrderBy(t => t.Period));
        Assert.Equal([150L, 150L], (await usageStore.ReadTotalsAsync(started, CancellationToken.None)).Select(t => t.TotalTokens));
    }

    [Fact]
    public async Task AppendingABatch_OnSqlite_AllocatesNoGarbagePerBoundValue()
    {
        await using var store = await TestStore.CreateAsync("Sqlite");
        await using var database = await store.OpenDatabaseAsync();
        await using var usageStore = new SqlUsageStore(database, TimeProvider.System);
        var started = DateTimeOffset.UtcNow;
        // Untagged, as most calls are: tags are serialised to their JSON column per record, by design.
        UsageRecord[] Batch(int n) => [.. Enumerable.Range(0, 20).Select(i => Full($"alloc-{n}-{i}", started) with { Tags = UsageRecord.EmptyTags })];
        await usageStore.AppendAsync(Batch(0), CancellationToken.None); // the writer's connection, its statements, the JIT

        long allocated = long.MaxValue;
        for (var run = 1; run <= 3; run++)
        {
            var batch = Batch(run); // the records themselves are the caller's, made before the count
            var before = GC.GetAllocatedBytesForCurrentThread();
            var append = usageStore.AppendAsync(batch, CancellationToken.None);
            var after = GC.GetAllocatedBytesForCurrentThread();
            // SQLite's provider completes synchronously; were it pending, this thread's count would miss its work.
            Assert.True(append.IsCompletedSuccessfully, "the SQLite append went asynchronous; its allocations were not all counted");
            allocated = Math.Min(allocated, after - before);
        }

        // What is left is per batch (the totals' dictionary and rows; BEGIN and COMMIT are kept statements too): ~4.0 KB
        // here, before the JIT has settled (5.3 KB when a Microsoft.Data.Sqlite transaction ran them). 27 values per record through the provider's parameters were ~3 KB a
        // record, ~60 KB here.
        Assert.True(allocated <= 16 * 1024, $"appending 20 records allocated {allocated} bytes");
    }


    [Fact]
    public async Task OutboxRows_OnSqlite_CostTheirPayloads_AndNoGarbagePerBoundValue()
    {
        await using var store = await TestStore.CreateAsync("Sqlite");
        await using var database = await store.OpenDatabaseAsync();
        var outbox = new UsageOutbox(Options.Create(new UsageExportOptions { Webhooks = [new WebhookSinkOptions { Url = "http://127.0.0.1:9/usage" }] }), database);
        await using var plain = new SqlUsageStore(database, TimeProvider.System);
        await using var exporting = new SqlUsageStore(database, TimeProvider.System, outbox);
        var started = DateTimeOffset.UtcNow;
        UsageRecord[] Batch(string name) => [.. Enumerable.Range(0, 20).Select(i => Full($"{name}-{i}", started) with { Tags = UsageRecord.EmptyTags })];

        long LeastAllocated(SqlUsageStore usageStore, string name)
        {
            var least = long.MaxValue;
            for (var run = 0; run <= 3; run++) // run 0: the writer's connection, its statements, the JIT
            {
                var batch = Batch($"{name}-{run}");
                var before = GC.GetAllocatedBytesForCurrentThread();
                var append = usageStore.AppendAsync(batch, CancellationToken.None);
                var after = GC.GetAllocatedBytesForCurrentThread();
                Assert.True(append.IsCompletedSuccessfully, "the SQLite append went asynchronous; its allocations were not all counted");
                if (run > 0) least = Math.Min(least, after - before);
            }
            return least;
        }

        var withoutRows = LeastAllocated(plain, "plain");
        var withRows = LeastAllocated(exporting, "exporting");

        // Each row's payload is its record's feed JSON, a string of its own, written through a 1 KiB buffer, a JSON writer
        // and three timestamp strings (~1.5 KB a row); the row's values are bound on SQLite's statement. Here 20 rows
        // allocated 62 000 bytes beyond the records' own append; through the provider's parameters, 91 440.
        var payloads = Batch("size").Sum(r => 24L + 2 * UsageFeedRecord.ToJson(r, 0).Length) + 24 + 8 * 20;
        Assert.True(withRows - withoutRows <= payloads + 20 * 1700,
            $"20 outbox rows allocated {withRows - withoutRows} bytes beyond the records' own append; their payloads are {payloads}");
        await using var connection = await database.OpenAsync(CancellationToken.None);
        Assert.Equal(4 * 20, (await UsageOutbox.ReadAsync(connection, null, outbox.Sinks[0], 1000, CancellationToken.None)).Count); // three measured runs and the first
    }

    private static UsageRecord Full(string id, DateTimeOffset started) => new(id, "alpha", "key_a", LedgerGateway.Model, null, "text,audio",
        started, 12.375, 480.5, UsageOutcome.Completed, "resp_" + id,
        new UpstreamUsage(100, 7, 50, 3, 150, """{"input_tokens":100,"input_tokens_details":{"cached_tokens":7},"output_tokens":50,"output_tokens_details":{"reasoning_tokens":3},"total_tokens":150}"""))
    {
        UpstreamAttempts = 2,
        ReservedTokens = 4096,
        Cost = new UsageCost(0.000123m, "CNY", DateTimeOffset.FromUnixTimeMilliseconds(1_767_225_600_000)),
        ReservedCost = 0.5m,
        Tags = new Dictionary<string, string> { ["project"] = "ünïcode-✓" },
    };
}
