using OmniGateway.Usage;
using OmniGateway.Usage.Storage;

namespace OmniGateway.IntegrationTests.Usage;

/// <summary>
/// How the SQLite ledger's files grow under a steady stream of commits (issue 11: the kernel zeroed a new
/// block per commit). The database file grows in large chunks; the WAL, checkpointed between commits,
/// is rewritten in place instead of growing.
/// </summary>
public sealed class LedgerFileGrowthTests
{
    [Fact]
    public async Task TheDatabaseFile_GrowsInChunks_AndTheWal_IsRewrittenInPlace()
    {
        await using var store = await TestStore.CreateAsync("Sqlite");
        await using var database = await store.OpenDatabaseAsync();
        await using var usageStore = new SqlUsageStore(database, TimeProvider.System);
        var wal = store.SqliteFile + "-wal";

        long walAfterFirst = 0;
        for (var commit = 0; commit < 60; commit++)
        {
            await usageStore.AppendAsync(Enumerable.Range(0, 20).Select(n => Record($"grow-{commit}-{n}")).ToArray(), CancellationToken.None);
            await usageStore.CheckpointAsync(CancellationToken.None);
            if (commit == 0) walAfterFirst = new FileInfo(wal).Length;
        }

        var databaseLength = new FileInfo(store.SqliteFile!).Length;
        Assert.True(databaseLength >= UsageDatabase.SqliteGrowthChunkBytes && databaseLength % UsageDatabase.SqliteGrowthChunkBytes == 0,
            $"the database file is {databaseLength} bytes: not grown in {UsageDatabase.SqliteGrowthChunkBytes}-byte chunks");
        // 1 200 records appended past the end would be ~60 times the first commit's WAL; rewritten in place it stays near one commit's.
        var walLength = new FileInfo(wal).Length;
        Assert.True(walLength <= walAfterFirst * 3, $"the WAL grew from {walAfterFirst} to {walLength} bytes over 60 checkpointed commits");
        Assert.Equal(1200, (await usageStore.QueryAsync(new UsageQuery(null, null, null, null, UsageGranularity.Total), CancellationToken.None)).Sum(r => r.Requests));
    }

    private static UsageRecord Record(string id) => new(id, "alpha", "key_grow", LedgerGateway.Model, null, "text",
        DateTimeOffset.UtcNow, 12.5, 480.0, UsageOutcome.Completed, "resp_" + id,
        new UpstreamUsage(100, 0, 50, 0, 150, """{"input_tokens":100,"input_tokens_details":{"cached_tokens":0},"output_tokens":50,"output_tokens_details":{"reasoning_tokens":0},"total_tokens":150}"""));
}
