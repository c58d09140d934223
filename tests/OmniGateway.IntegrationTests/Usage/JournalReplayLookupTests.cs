using OmniGateway.Usage;
using OmniGateway.Usage.Storage;

namespace OmniGateway.IntegrationTests.Usage;

/// <summary>
/// What a journal replay skips (<see cref="SqlUsageStore.StoredOfAsync"/>): a record the store already holds, found by
/// its record key, or, for a row stored before records had keys, by its request id, tenant and start; never a record
/// that only shares a request id with a stored one (callers choose request ids, and may repeat them).
/// </summary>
public sealed class JournalReplayLookupTests
{
    [Theory, EveryStore]
    public async Task StoredRecords_AreFound_ByKey_OrForUnkeyedRowsByIdentity_AndNothingElse(string provider)
    {
        await using var store = await TestStore.CreateAsync(provider);
        await using var database = await store.OpenDatabaseAsync();
        await using var usageStore = new SqlUsageStore(database, TimeProvider.System);

        var started = DateTimeOffset.FromUnixTimeMilliseconds(DateTimeOffset.UtcNow.ToUnixTimeMilliseconds());
        var stored = Record("req-stored", started);
        var unkeyed = Record("req-before-keys", started.AddSeconds(-5));
        await usageStore.AppendAsync([stored, unkeyed], CancellationToken.None);
        // As a row written before migration 6 would be: no record key.
        await using (var connection = await database.OpenAsync(CancellationToken.None))
        await using (var command = connection.CreateCommand())
        {
            command.CommandText = "UPDATE usage_records SET record_key = NULL WHERE request_id = @id";
            command.AddParameter("@id", unkeyed.RequestId);
            Assert.Equal(1, await command.ExecuteNonQueryAsync());
        }

        var sameRequestIdOtherCall = Record("req-stored", started); // its own record key: a second billable call
        var unkeyedAgain = Record("req-before-keys", started.AddSeconds(-5)); // replayed from an old journal: a new key
        var unkeyedOtherTenant = Record("req-before-keys", started.AddSeconds(-5)) with { TenantId = "beta" };
        var never = Record("req-never-stored", started);

        var found = await usageStore.StoredOfAsync([stored, sameRequestIdOtherCall, unkeyedAgain, unkeyedOtherTenant, never], CancellationToken.None);

        Assert.True(found.Contains(stored));
        Assert.False(found.Contains(sameRequestIdOtherCall));
        Assert.True(found.Contains(unkeyedAgain));
        Assert.False(found.Contains(unkeyedOtherTenant));
        Assert.False(found.Contains(never));
    }

    private static UsageRecord Record(string requestId, DateTimeOffset started) => new(requestId, "alpha", "key_replay", LedgerGateway.Model, null, "text",
        started, 12.5, 480.0, UsageOutcome.Completed, "resp_" + requestId,
        new UpstreamUsage(100, 0, 50, 0, 150,
            """{"input_tokens":100,"input_tokens_details":{"cached_tokens":0},"output_tokens":50,"output_tokens_details":{"reasoning_tokens":0},"total_tokens":150}"""));
}
