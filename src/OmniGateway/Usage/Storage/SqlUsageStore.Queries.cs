using System.Globalization;
using System.Text;

namespace OmniGateway.Usage.Storage;

public sealed partial class SqlUsageStore
{
    /// <summary>
    /// Sums per tenant, model and UTC period. Buckets are integer division of Unix milliseconds, exact
    /// on both providers. A call whose upstream reported no usage adds no tokens to the token sums (they
    /// stay the upstream's truth) but is counted in <c>unreported_requests</c> with its reservation in <c>reserved_tokens</c>.
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
        await using var connection = await database.OpenAsync(cancellationToken);
        await using var command = connection.CreateCommand();
        var tagValue = "NULL";
        if (query.GroupByTag is { } groupKey) tagValue = TagValue(command, "@group_tag", groupKey);
        // Costs are 1e-12 units in BIGINT; summed in three parts so no SUM can overflow 64 bits, then joined exactly below.
        var sql = new StringBuilder($"""
            SELECT tenant_id, model, {bucket} AS period_start_ms, COUNT(*) AS requests,
                CAST(COALESCE(SUM(input_tokens), 0) AS BIGINT), CAST(COALESCE(SUM(cached_tokens), 0) AS BIGINT),
                CAST(COALESCE(SUM(output_tokens), 0) AS BIGINT), CAST(COALESCE(SUM(reasoning_tokens), 0) AS BIGINT),
                CAST(COALESCE(SUM(total_tokens), 0) AS BIGINT),
                CAST(COALESCE(SUM(1 - usage_reported), 0) AS BIGINT),
                CAST(COALESCE(SUM(CASE WHEN usage_reported = 0 THEN reserved_tokens END), 0) AS BIGINT),
                currency, SUM(cost_picos / 1000000000000), SUM((cost_picos % 1000000000000) / 1000000), SUM(cost_picos % 1000000),
                {tagValue} AS tag_value
            FROM usage_records WHERE 1 = 1
            """);
        if (query.TenantId is not null) { sql.Append(" AND tenant_id = @tenant"); command.AddParameter("@tenant", query.TenantId); }
        if (query.Model is not null) { sql.Append(" AND model = @model"); command.AddParameter("@model", query.Model); }
        if (query.From is { } from) { sql.Append(" AND started_at_ms >= @from"); command.AddParameter("@from", from.ToUnixTimeMilliseconds()); }
        if (query.To is { } to) { sql.Append(" AND started_at_ms < @to"); command.AddParameter("@to", to.ToUnixTimeMilliseconds()); }
        for (var i = 0; i < query.TagFilters.Count; i++)
        {
            var (key, value) = query.TagFilters[i];
            sql.Append(" AND ").Append(TagValue(command, $"@tag_key{i}", key)).Append($" = @tag_value{i}");
            command.AddParameter($"@tag_value{i}", value);
        }
        sql.Append(" GROUP BY tenant_id, model, currency");
        if (query.GroupByTag is not null) sql.Append(", tag_value");
        if (query.Granularity != UsageGranularity.Total) sql.Append(", period_start_ms");
        // No ORDER BY: rows past the limit are refused, never cut, and they are ordered ordinally below.
        if (limit is { } rowLimit) { sql.Append(" LIMIT @limit"); command.AddParameter("@limit", (long)rowLimit); }
        command.CommandText = sql.ToString();

        var rows = new List<UsageRow>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            rows.Add(new UsageRow(reader.GetString(0), reader.GetString(1), DateTimeOffset.FromUnixTimeMilliseconds(reader.GetInt64(2)),
                reader.GetInt64(3), reader.GetInt64(4), reader.GetInt64(5), reader.GetInt64(6), reader.GetInt64(7), reader.GetInt64(8))
            {
                Currency = reader.GetNullableString(11),
                Cost = reader.IsDBNull(12) ? null : Pricing.UsageCost.Normalize(Convert.ToDecimal(reader.GetValue(12), CultureInfo.InvariantCulture)
                      + Convert.ToDecimal(reader.GetValue(13), CultureInfo.InvariantCulture) / 1_000_000m
                      + Convert.ToDecimal(reader.GetValue(14), CultureInfo.InvariantCulture) / Pricing.UsageCost.PicosPerUnit),
                TagValue = reader.GetNullableString(15),
                UnreportedRequests = reader.GetInt64(9),
                ReservedTokens = reader.GetInt64(10),
            });
        }
        // Ordered here, ordinally: the providers' collations and NULL placement differ.
        // A total's period start is its group's first call, so it does not order totals.
        return rows.OrderBy(r => query.Granularity == UsageGranularity.Total ? DateTimeOffset.MinValue : r.PeriodStart).ThenBy(r => r.Tenant, StringComparer.Ordinal).ThenBy(r => r.Model, StringComparer.Ordinal)
            .ThenBy(r => r.TagValue is null).ThenBy(r => r.TagValue, StringComparer.Ordinal).ThenBy(r => r.Currency, StringComparer.Ordinal).ToList();
    }

    /// <summary>The SQL for one tag's value; the key travels as a parameter (and is restricted to [A-Za-z0-9_.-] besides).</summary>
    private string TagValue(System.Data.Common.DbCommand command, string parameter, string key)
    {
        if (database.Provider == UsageProvider.Postgres)
        {
            command.AddParameter(parameter, key);
            return $"(tags_json::jsonb ->> {parameter})";
        }
        command.AddParameter(parameter, "$.\"" + key + "\"");
        return $"json_extract(tags_json, {parameter})";
    }

    /// <summary>Raw records, oldest first: for audits and tests, not for the hot path.</summary>
    public async Task<IReadOnlyList<StoredUsageRecord>> ReadRecordsAsync(string? tenantId, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken);
        await using var command = connection.CreateCommand();
        command.CommandText = """
            SELECT request_id, tenant_id, key_id, model, voice, modalities, started_at_ms, ttfb_ms, duration_ms, outcome, upstream_response_id,
                input_tokens, cached_tokens, output_tokens, reasoning_tokens, total_tokens, usage_json, recorded_at_ms, upstream_attempts, reserved_tokens,
                record_key, cost_picos, currency, price_effective_ms, tags_json
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
                ReservedTokens = reader.IsDBNull(19) ? null : reader.GetInt64(19),
                RecordKey = reader.GetNullableString(20) ?? "",
                Cost = reader.IsDBNull(22) ? null : new Pricing.UsageCost(reader.IsDBNull(21) ? null : Pricing.UsageCost.FromPicos(reader.GetInt64(21)),
                    reader.GetString(22), DateTimeOffset.FromUnixTimeMilliseconds(reader.GetInt64(23))),
                Tags = RecordTags.FromJson(reader.GetNullableString(24)),
            };
            records.Add(new StoredUsageRecord(record, DateTimeOffset.FromUnixTimeMilliseconds(reader.GetInt64(17))));
        }
        return records;
    }
}

public sealed record StoredUsageRecord(UsageRecord Record, DateTimeOffset RecordedAt);
