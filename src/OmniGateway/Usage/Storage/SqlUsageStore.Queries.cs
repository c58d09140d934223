using System.Text;

namespace OmniGateway.Usage.Storage;

public sealed partial class SqlUsageStore
{
    /// <summary>
    /// Sums per tenant, model and UTC period. Buckets are integer division of Unix milliseconds, exact
    /// on both providers; a call whose upstream reported no usage counts as a request with no tokens.
    /// </summary>
    public async Task<IReadOnlyList<UsageRow>> QueryAsync(UsageQuery query, CancellationToken cancellationToken, int? limit = null)
    {
        var bucket = query.Granularity switch
        {
            UsageGranularity.Hour => "(started_at_ms / 3600000) * 3600000",
            UsageGranularity.Day => "(started_at_ms / 86400000) * 86400000",
            // A total's period starts at 'from', or at the group's first call when unbounded.
            _ => query.From is null ? "MIN(started_at_ms)" : "@from",
        };
        var sql = new StringBuilder($"""
            SELECT tenant_id, model, {bucket} AS period_start_ms, COUNT(*) AS requests,
                CAST(COALESCE(SUM(input_tokens), 0) AS BIGINT), CAST(COALESCE(SUM(cached_tokens), 0) AS BIGINT),
                CAST(COALESCE(SUM(output_tokens), 0) AS BIGINT), CAST(COALESCE(SUM(reasoning_tokens), 0) AS BIGINT),
                CAST(COALESCE(SUM(total_tokens), 0) AS BIGINT)
            FROM usage_records WHERE 1 = 1
            """);
        await using var connection = await database.OpenAsync(cancellationToken);
        await using var command = connection.CreateCommand();
        if (query.TenantId is not null) { sql.Append(" AND tenant_id = @tenant"); command.AddParameter("@tenant", query.TenantId); }
        if (query.Model is not null) { sql.Append(" AND model = @model"); command.AddParameter("@model", query.Model); }
        if (query.From is { } from) { sql.Append(" AND started_at_ms >= @from"); command.AddParameter("@from", from.ToUnixTimeMilliseconds()); }
        if (query.To is { } to) { sql.Append(" AND started_at_ms < @to"); command.AddParameter("@to", to.ToUnixTimeMilliseconds()); }
        sql.Append(query.Granularity == UsageGranularity.Total
            ? " GROUP BY tenant_id, model ORDER BY tenant_id, model"
            : " GROUP BY tenant_id, model, period_start_ms ORDER BY period_start_ms, tenant_id, model");
        if (limit is { } rowLimit) { sql.Append(" LIMIT @limit"); command.AddParameter("@limit", (long)rowLimit); }
        command.CommandText = sql.ToString();

        var rows = new List<UsageRow>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            rows.Add(new UsageRow(reader.GetString(0), reader.GetString(1), DateTimeOffset.FromUnixTimeMilliseconds(reader.GetInt64(2)),
                reader.GetInt64(3), reader.GetInt64(4), reader.GetInt64(5), reader.GetInt64(6), reader.GetInt64(7), reader.GetInt64(8)));
        }
        return rows;
    }

    /// <summary>Raw records, oldest first: for audits and tests, not for the hot path.</summary>
    public async Task<IReadOnlyList<StoredUsageRecord>> ReadRecordsAsync(string? tenantId, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken);
        await using var command = connection.CreateCommand();
        command.CommandText = """
            SELECT request_id, tenant_id, key_id, model, voice, modalities, started_at_ms, ttfb_ms, duration_ms, outcome, upstream_response_id,
                input_tokens, cached_tokens, output_tokens, reasoning_tokens, total_tokens, usage_json, recorded_at_ms, upstream_attempts
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
                reader.GetNullableDouble(7), reader.GetDouble(8), UsageRecord.ParseOutcome(reader.GetString(9)), reader.GetNullableString(10), usage)
            {
                UpstreamAttempts = (int)reader.GetInt64(18),
            };
            records.Add(new StoredUsageRecord(record, DateTimeOffset.FromUnixTimeMilliseconds(reader.GetInt64(17))));
        }
        return records;
    }
}

public sealed record StoredUsageRecord(UsageRecord Record, DateTimeOffset RecordedAt);
