using System.Text;

namespace OmniGateway.Usage.Storage;

public sealed partial class SqlUsageStore
{
    /// <summary>What makes a record the same record when its row has no record key (stored before keys existed): request ids alone may repeat.</summary>
    public static (string RequestId, string TenantId, long StartedAtMs) Identity(UsageRecord record) =>
        (record.RequestId, record.TenantId, record.StartedAt.ToUnixTimeMilliseconds());

    /// <summary>Which of <paramref name="records"/> the store already holds: a journal replay skips them.</summary>
    public async Task<StoredRecords> StoredOfAsync(IReadOnlyList<UsageRecord> records, CancellationToken cancellationToken)
    {
        var stored = new StoredRecords();
        await using var connection = await database.OpenAsync(cancellationToken);
        foreach (var chunk in records.Chunk(200))
        {
            await using var command = connection.CreateCommand();
            // Keyed rows by their key; rows from before keys existed by their start time, matched in full below.
            var sql = new StringBuilder("SELECT request_id, tenant_id, started_at_ms, record_key FROM usage_records WHERE record_key IN (");
            for (var i = 0; i < chunk.Length; i++)
            {
                sql.Append(i == 0 ? "" : ", ").Append("@k").Append(i);
                command.AddParameter("@k" + i, chunk[i].RecordKey);
            }
            sql.Append(") UNION ALL SELECT request_id, tenant_id, started_at_ms, record_key FROM usage_records WHERE record_key IS NULL AND started_at_ms IN (");
            for (var i = 0; i < chunk.Length; i++)
            {
                sql.Append(i == 0 ? "" : ", ").Append("@t").Append(i);
                command.AddParameter("@t" + i, chunk[i].StartedAt.ToUnixTimeMilliseconds());
            }
            command.CommandText = sql.Append(')').ToString();
            await using var reader = await command.ExecuteReaderAsync(cancellationToken);
            while (await reader.ReadAsync(cancellationToken))
            {
                if (reader.IsDBNull(3)) stored.Unkeyed.Add((reader.GetString(0), reader.GetString(1), reader.GetInt64(2)));
                else stored.Keys.Add(reader.GetString(3));
            }
        }
        return stored;
    }
}

/// <summary>
/// Stored rows matching a replay: by record key (unique per call, so two calls that share a request id, tenant
/// and millisecond are still two), or by <see cref="SqlUsageStore.Identity"/> for rows written before keys existed.
/// </summary>
public sealed class StoredRecords
{
    internal HashSet<string> Keys { get; } = new(StringComparer.Ordinal);

    internal HashSet<(string RequestId, string TenantId, long StartedAtMs)> Unkeyed { get; } = [];

    public bool Contains(UsageRecord record) => Keys.Contains(record.RecordKey) || Unkeyed.Contains(SqlUsageStore.Identity(record));
}
