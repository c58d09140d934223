using System.Text;

namespace OmniGateway.Usage.Storage;

public sealed partial class SqlUsageStore
{
    /// <summary>What makes a record the same record: request ids alone may repeat (a caller may send its own).</summary>
    public static (string RequestId, string TenantId, long StartedAtMs) Identity(UsageRecord record) =>
        (record.RequestId, record.TenantId, record.StartedAt.ToUnixTimeMilliseconds());

    /// <summary>Which of <paramref name="records"/> the store already holds: a journal replay skips them.</summary>
    public async Task<HashSet<(string RequestId, string TenantId, long StartedAtMs)>> StoredOfAsync(IReadOnlyList<UsageRecord> records,
        CancellationToken cancellationToken)
    {
        var stored = new HashSet<(string, string, long)>();
        await using var connection = await database.OpenAsync(cancellationToken);
        foreach (var chunk in records.Chunk(200))
        {
            await using var command = connection.CreateCommand();
            var sql = new StringBuilder("SELECT request_id, tenant_id, started_at_ms FROM usage_records WHERE request_id IN (");
            for (var i = 0; i < chunk.Length; i++)
            {
                sql.Append(i == 0 ? "" : ", ").Append("@r").Append(i);
                command.AddParameter("@r" + i, chunk[i].RequestId);
            }
            command.CommandText = sql.Append(')').ToString();
            await using var reader = await command.ExecuteReaderAsync(cancellationToken);
            while (await reader.ReadAsync(cancellationToken)) stored.Add((reader.GetString(0), reader.GetString(1), reader.GetInt64(2)));
        }
        return stored;
    }
}
