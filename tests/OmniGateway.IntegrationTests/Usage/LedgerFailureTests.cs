using System.Net;
using Microsoft.Data.Sqlite;
using OmniGateway.Usage;

namespace OmniGateway.IntegrationTests.Usage;

/// <summary>
/// A usage store that refuses writes (a real SQLite file whose usage table rejects every insert, as a
/// full disk or a broken volume would): the completion is withheld with <c>usage_not_recorded</c>,
/// readiness fails, and the record — which the upstream billed — is stored once the store is back,
/// by the running gateway or by the next one at start-up. Exactly once.
/// </summary>
public sealed class LedgerFailureTests : IAsyncLifetime
{
    private static readonly ExpectedUsage TextAudio = Fixtures.Usage("text-audio.sse");

    private TestStore _store = null!; // created in InitializeAsync
    private FakeUpstream _upstream = null!;

    public async Task InitializeAsync()
    {
        _store = await TestStore.CreateAsync("Sqlite");
        _upstream = await FakeUpstream.StartAsync();
        _upstream.Respond = c => FakeUpstream.PlayAsync(c, Fixtures.Stream("text-audio.sse"), TimeSpan.Zero);
    }

    public async Task DisposeAsync()
    {
        await _upstream.DisposeAsync();
        await _store.DisposeAsync();
    }

    private LedgerGateway Gateway() => new(_store, _upstream.BaseUrl, new Dictionary<string, string?>
    {
        ["Usage:BudgetRefreshInterval"] = "00:00:00.200", // the tick on which an idle gateway retries its journal
    });

    private static async Task<List<UsageRecord>> RecordsAsync(LedgerGateway gateway, string requestId) =>
        (await gateway.Store.ReadRecordsAsync(null, CancellationToken.None)).Select(r => r.Record).Where(r => r.RequestId == requestId).ToList();

    private static async Task<UsageRecord> EventuallyStoredAsync(LedgerGateway gateway, string requestId)
    {
        for (var i = 0; i < 100; i++)
        {
            var records = await RecordsAsync(gateway, requestId);
            if (records.Count > 0) return Assert.Single(records);
            await Task.Delay(100);
        }
        throw new Xunit.Sdk.XunitException($"{requestId} was not stored within 10 s of the store coming back");
    }

    [Fact, Trait("Category", "Slow")]
    public async Task CommitThatFails_WithholdsTheCompletion_FailsReadiness_AndStoresTheRecordOnceTheStoreIsBack()
    {
        await using var gateway = Gateway();
        using var client = gateway.Client(LedgerGateway.AlphaKey);
        var before = await StreamClient.PostAsync(client, Fixtures.Request("text-audio.json"), "before-1");
        Assert.True(before.SawCompleted);
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/readyz")).StatusCode);

        _store.RefuseWrites(true);
        var refused = await StreamClient.PostAsync(client, Fixtures.Request("text-audio.json"), "during-1");

        Assert.False(refused.SawCompleted, "a completion nobody can bill was relayed");
        Assert.Contains("\"code\":\"usage_not_recorded\"", refused.Body, StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.ServiceUnavailable, (await client.GetAsync("/readyz")).StatusCode);
        Assert.Empty(await RecordsAsync(gateway, "during-1"));

        _store.RefuseWrites(false);
        var stored = await EventuallyStoredAsync(gateway, "during-1");

        Assert.Equal((UsageOutcome.Completed, TextAudio.TotalTokens), (stored.Outcome, stored.Usage!.TotalTokens));
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/readyz")).StatusCode);
        var after = await StreamClient.PostAsync(client, Fixtures.Request("text-audio.json"), "after-1");
        Assert.True(after.SawCompleted);
        Assert.Single(await RecordsAsync(gateway, "during-1")); // replayed once, not again with the next commit
        var usage = await client.GetStringAsync("/v1/usage");
        Assert.Contains($"\"total_tokens\":{3 * TextAudio.TotalTokens}", usage, StringComparison.Ordinal); // 3 × the sample's total: the journaled call counts
    }

    [Fact]
    public async Task RecordsJournaledWhenTheGatewayStops_AreStoredByTheNextOneAtStartUp()
    {
        await using (var gateway = Gateway())
        {
            using var client = gateway.Client(LedgerGateway.AlphaKey);
            _store.RefuseWrites(true);
            var refused = await StreamClient.PostAsync(client, Fixtures.Request("text-audio.json"), "journaled-1");
            Assert.Contains("\"code\":\"usage_not_recorded\"", refused.Body, StringComparison.Ordinal);
        }
        var journal = Path.Combine(Path.GetDirectoryName(_store.SqliteFile)!, "usage-journal.jsonl");
        Assert.True(File.Exists(journal), "the failed record was not journaled");
        _store.RefuseWrites(false);

        await using var restarted = Gateway();
        using var restartedClient = restarted.Client(LedgerGateway.AlphaKey);
        var stored = Assert.Single(await RecordsAsync(restarted, "journaled-1"));
        Assert.Equal((UsageOutcome.Completed, TextAudio.TotalTokens), (stored.Outcome, stored.Usage!.TotalTokens));
        Assert.False(File.Exists(journal), "the journal is cleared once the store holds its records");
    }
}
