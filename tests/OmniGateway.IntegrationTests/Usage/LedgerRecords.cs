using OmniGateway.Usage;
using OmniGateway.Usage.Pricing;
using OmniGateway.Usage.Storage;

namespace OmniGateway.IntegrationTests.Usage;

/// <summary>
/// The ledger's records as stored, read straight from its table: what a test checks the gateway wrote.
/// Test code only: nothing in the gateway reads a record back.
/// </summary>
public sealed class LedgerRecords(UsageDatabase database)
{
    public static LedgerRecords Of(IServiceProvider services) => new(services.GetRequiredService<UsageDatabase>());

    /// <summary>Every record of a store no gateway in this process holds open (one killed, or another process's), oldest first.</summary>
    public static async Task<List<UsageRecord>> OfClosedStoreAsync(TestStore store)
    {
        await store.WaitUntilClosedAsync(TimeSpan.FromSeconds(10)); // a commit the killed gateway sent before it died lands first
        await using var database = await store.OpenDatabaseAsync(migrate: false);
        return [.. (await new LedgerRecords(database).ReadRecordsAsync(null, CancellationToken.None)).Select(r => r.Record)];
    }

    public UsageDatabase Database => database;

    /// <summary>Raw records, oldest first.</summary>
    public async Task<IReadOnlyList<StoredUsageRecord>> ReadRecordsAsync(string? tenantId, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken);
        await using var command = connection.CreateCommand();
        command.CommandText = """
            SELECT request_id, tenant_id, key_id, model, voice, modalities, started_at_ms, ttfb_ms, duration_ms, outcome, upstream_response_id,
                input_tokens, cached_tokens, output_tokens, reasoning_tokens, total_tokens, usage_json, recorded_at_ms, upstream_attempts, reserved_tokens,
                record_key, cost_picos, currency, price_effective_ms, tags_json, reserved_cost_picos
            FROM usage_records
            """ + (tenantId is null ? "" : " WHERE tenant_id = @tenant") + " ORDER BY id";
        if (tenantId is not null) command.AddParameter("@tenant", tenantId);
        var records = new List<StoredUsageRecord>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            var usage = reader.IsDBNull(16) ? null : new UpstreamUsage(reader.GetInt64(11), reader.GetInt64(12), reader.GetInt64(13),
                reader.GetInt64(14), reader.GetInt64(15), reader.GetString(16));
            var record = new UsageRecord(reader.GetString(0), reader.GetString(1), reader.GetString(2), reader.GetString(3),
                reader.GetNullableString(4), reader.GetString(5), DateTimeOffset.FromUnixTimeMilliseconds(reader.GetInt64(6)),
                reader.IsDBNull(7) ? null : reader.GetDouble(7), reader.GetDouble(8), UsageRecord.ParseOutcome(reader.GetString(9)), reader.GetNullableString(10), usage)
            {
                UpstreamAttempts = (int)reader.GetInt64(18),
                ReservedTokens = reader.IsDBNull(19) ? null : reader.GetInt64(19),
                RecordKey = reader.GetNullableString(20) ?? "",
                Cost = reader.IsDBNull(22) ? null : new UsageCost(reader.IsDBNull(21) ? null : UsageCost.FromPicos(reader.GetInt64(21)),
                    reader.GetString(22), DateTimeOffset.FromUnixTimeMilliseconds(reader.GetInt64(23))),
                Tags = RecordTags.FromJson(reader.GetNullableString(24)),
                ReservedCost = reader.IsDBNull(25) ? null : UsageCost.FromPicos(reader.GetInt64(25)),
            };
            records.Add(new StoredUsageRecord(record, DateTimeOffset.FromUnixTimeMilliseconds(reader.GetInt64(17))));
        }
        return records;
    }
}

public sealed record StoredUsageRecord(UsageRecord Record, DateTimeOffset RecordedAt);
