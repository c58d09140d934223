using System.Net;
using System.Text.Json;
using Microsoft.Data.Sqlite;
using OmniGateway.IntegrationTests.Usage;

namespace OmniGateway.IntegrationTests.Hardening;

/// <summary>Issue 9.8: a usage query without 'from' is this UTC month's; more than 10 000 rows is a 400 that says how to narrow it.</summary>
public sealed class UsageQueryBoundsTests
{
    [Fact]
    public async Task NoFrom_MeansThisUtcMonth_AndMoreThan10000Rows_Is400SayingHowToNarrow()
    {
        await using var store = await TestStore.CreateAsync("Sqlite");
        await using var gateway = new LedgerGateway(store);
        using var admin = gateway.Client(LedgerGateway.AdminKey);
        using var alpha = gateway.Client(LedgerGateway.AlphaKey);
        _ = await admin.GetStringAsync("/admin/tenants"); // the schema exists once the gateway has started

        // 10 001 hourly records of alpha's, all before this month, and one record now.
        var now = DateTimeOffset.UtcNow;
        var monthStart = new DateTimeOffset(now.Year, now.Month, 1, 0, 0, 0, TimeSpan.Zero);
        var firstHour = monthStart.AddHours(-10_001).ToUnixTimeMilliseconds();
        await using (var connection = new SqliteConnection(store.Settings["Usage:ConnectionString"]))
        {
            await connection.OpenAsync();
            await using var transaction = await connection.BeginTransactionAsync();
            await using var insert = connection.CreateCommand();
            insert.CommandText = """
                INSERT INTO usage_records (request_id, tenant_id, key_id, model, modalities, started_at_ms, duration_ms, outcome, total_tokens, recorded_at_ms)
                VALUES ($id, 'alpha', 'k', 'qwen3.5-omni-plus-all', 'text', $at, 1, 'completed', 1, $at)
                """;
            var id = insert.Parameters.Add("$id", SqliteType.Text);
            var at = insert.Parameters.Add("$at", SqliteType.Integer);
            for (var i = 0; i <= 10_001; i++)
            {
                (id.Value, at.Value) = ($"req_{i}", i < 10_001 ? firstHour + i * 3_600_000L : now.ToUnixTimeMilliseconds());
                await insert.ExecuteNonQueryAsync();
            }
            await transaction.CommitAsync();
        }

        using (var thisMonth = JsonDocument.Parse(await alpha.GetStringAsync("/v1/usage")))
        {
            var row = Assert.Single(thisMonth.RootElement.GetProperty("data").EnumerateArray());
            Assert.Equal(1, row.GetProperty("requests").GetInt64());
            Assert.Equal(monthStart, DateTimeOffset.Parse(row.GetProperty("period_start").GetString()!, System.Globalization.CultureInfo.InvariantCulture));
        }

        var from = monthStart.AddHours(-10_001).ToString("yyyy-MM-ddTHH:mm:ssZ", System.Globalization.CultureInfo.InvariantCulture);
        using (var tooMany = await alpha.GetAsync($"/v1/usage?from={from}&granularity=hour"))
        {
            Assert.Equal(HttpStatusCode.BadRequest, tooMany.StatusCode);
            var text = await tooMany.Content.ReadAsStringAsync();
            Assert.Contains("\"code\":\"usage_query_too_large\"", text, StringComparison.Ordinal);
            Assert.Contains("10000 rows", text, StringComparison.Ordinal);
            Assert.Contains("granularity", text, StringComparison.Ordinal);
        }
        using (var daily = JsonDocument.Parse(await admin.GetStringAsync($"/admin/usage?from={from}&granularity=day")))
            Assert.Equal(10_002, daily.RootElement.GetProperty("data").EnumerateArray().Sum(r => r.GetProperty("requests").GetInt64()));

        using (var beforeThisMonth = await alpha.GetAsync($"/v1/usage?to={monthStart.AddDays(-1):yyyy-MM-dd}"))
            Assert.Equal(HttpStatusCode.BadRequest, beforeThisMonth.StatusCode);
    }
}
