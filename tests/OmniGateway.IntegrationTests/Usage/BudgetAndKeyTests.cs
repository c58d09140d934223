using System.Buffers.Text;
using System.Net;
using System.Text.Json;
using Microsoft.Extensions.Time.Testing;

namespace OmniGateway.IntegrationTests.Usage;

public sealed class BudgetAndKeyTests
{
    private static readonly string LongQuestion = string.Concat(Enumerable.Repeat("How do budgets reset? ", 20));

    [Theory, EveryStore]
    public async Task CallStartingPastTheDailyBudget_Gets429WithRetryAfter_AndPassesAfterTheReset(string provider)
    {
        await using var store = await TestStore.CreateAsync(provider);
        var time = new FakeTimeProvider(new DateTimeOffset(2026, 3, 31, 23, 59, 0, TimeSpan.Zero));
        await using var gateway = new LedgerGateway(store, settings: new Dictionary<string, string?>
        {
            ["Gateway:Tenants:0:Limits:DailyTokens"] = "300",
            ["Gateway:Tenants:1:Limits:MonthlyTokens"] = "300",
            ["Simulator:EventDelay"] = "00:00:00", // the frozen clock would hold any real pause forever
        }, time: time);

        foreach (var key in new[] { LedgerGateway.AlphaKey, LedgerGateway.BetaKey })
        {
            using var client = gateway.Client(key);
            var first = await StreamClient.PostAsync(client, StreamClient.Request(LongQuestion));
            Assert.True(first.SawCompleted, first.Body);
            // What it spent leaves less than the next call's input estimate plus a minimal output: refused until the reset.

            using var refused = await client.PostAsync("/v1/responses", new StringContent(StreamClient.Request(LongQuestion), System.Text.Encoding.UTF8, "application/json"));
            Assert.Equal(HttpStatusCode.TooManyRequests, refused.StatusCode);
            Assert.Equal(TimeSpan.FromSeconds(60), refused.Headers.RetryAfter?.Delta); // until 00:00 UTC, the day's and the month's end
            using var error = JsonDocument.Parse(await refused.Content.ReadAsStringAsync());
            Assert.Equal("rate_limit_error", error.RootElement.GetProperty("error").GetProperty("type").GetString());
            Assert.Equal("token_budget_exceeded", error.RootElement.GetProperty("error").GetProperty("code").GetString());
        }
        var records = await gateway.Store.ReadRecordsAsync(null, CancellationToken.None);
        Assert.Equal(2, records.Count); // a refused call is not an accepted one

        time.Advance(TimeSpan.FromSeconds(61));
        foreach (var key in new[] { LedgerGateway.AlphaKey, LedgerGateway.BetaKey })
        {
            using var client = gateway.Client(key);
            Assert.True((await StreamClient.PostAsync(client, StreamClient.Request("new day"))).SawCompleted);
        }
    }

    [Theory, EveryStore]
    public async Task IssuedKeyWorks_RevokedKeyGets401AtOnce_AdminEndpointsRefuseTenantKeys(string provider)
    {
        await using var store = await TestStore.CreateAsync(provider);
        await using var gateway = new LedgerGateway(store);
        using var admin = gateway.Client(LedgerGateway.AdminKey);
        using var anonymous = gateway.Client(null);

        using (var created = await admin.PostAsJsonAsync("/admin/tenants", new { Id = "gamma", Name = "Gamma", Limits = new { DailyTokens = 1_000_000 } }))
            Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        using var issued = await admin.PostAsync("/admin/tenants/gamma/keys", null);
        Assert.Equal(HttpStatusCode.Created, issued.StatusCode);
        using var issuedJson = JsonDocument.Parse(await issued.Content.ReadAsStringAsync());
        var key = issuedJson.RootElement.GetProperty("Key").GetString()!;
        var keyId = issuedJson.RootElement.GetProperty("Id").GetString()!;
        Assert.StartsWith("og-", key, StringComparison.Ordinal);
        Assert.True(Base64Url.DecodeFromChars(key.AsSpan(3)).Length * 8 >= 192);

        using var tenant = gateway.Client(key);
        var call = await StreamClient.PostAsync(tenant, StreamClient.Request("Hello from gamma"));
        Assert.True(call.SawCompleted, call.Body);
        var record = Assert.Single(await gateway.Store.ReadRecordsAsync("gamma", CancellationToken.None)).Record;
        Assert.Equal(keyId, record.KeyId);

        // Admin endpoints: a tenant key is forbidden, no key is unauthenticated.
        foreach (var path in new[] { "/admin/tenants", "/admin/usage", "/admin/tenants/gamma" })
        {
            using var forbidden = await tenant.GetAsync(path);
            Assert.Equal(HttpStatusCode.Forbidden, forbidden.StatusCode);
            using var unauthenticated = await anonymous.GetAsync(path);
            Assert.Equal(HttpStatusCode.Unauthorized, unauthenticated.StatusCode);
        }
        using (var issueAsTenant = await tenant.PostAsync("/admin/tenants/gamma/keys", null))
            Assert.Equal(HttpStatusCode.Forbidden, issueAsTenant.StatusCode);

        // The key is shown once: never again, and never stored, only its SHA-256.
        var listing = await admin.GetStringAsync("/admin/tenants/gamma");
        Assert.Contains(keyId, listing, StringComparison.Ordinal);
        Assert.DoesNotContain(key, listing, StringComparison.Ordinal);
        Assert.Equal([LedgerGateway.Sha256(key)], await StoredKeyHashesAsync(gateway, "gamma"));

        using (var revoked = await admin.DeleteAsync($"/admin/tenants/gamma/keys/{keyId}"))
            Assert.Equal(HttpStatusCode.NoContent, revoked.StatusCode);
        using (var afterRevoke = await tenant.GetAsync("/v1/usage"))
            Assert.Equal(HttpStatusCode.Unauthorized, afterRevoke.StatusCode);
    }

    [Theory, EveryStore]
    public async Task TenantsApi_PatchesDisablesAndDeletes_AndLeavesConfiguredTenantsToConfiguration(string provider)
    {
        await using var store = await TestStore.CreateAsync(provider);
        await using var gateway = new LedgerGateway(store);
        using var admin = gateway.Client(LedgerGateway.AdminKey);

        using (var created = await admin.PostAsJsonAsync("/admin/tenants", new { id = "delta", allowedModels = new[] { LedgerGateway.Model } }))
            Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        using (var duplicate = await admin.PostAsJsonAsync("/admin/tenants", new { Id = "alpha" }))
            Assert.Equal(HttpStatusCode.Conflict, duplicate.StatusCode);
        using (var typo = await admin.PostAsJsonAsync("/admin/tenants", new { Id = "epsilon", Limits = new { DailyToken = 5 } }))
        {
            Assert.Equal(HttpStatusCode.BadRequest, typo.StatusCode);
            Assert.Contains("\"param\":\"Limits.dailyToken\"" /* PostAsJsonAsync camel-cases; the param echoes the name as sent */, await typo.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        }
        using (var badModel = await admin.PostAsJsonAsync("/admin/tenants", new { Id = "epsilon", AllowedModels = (string[])["gpt-9"] }))
            Assert.Contains("\"param\":\"AllowedModels[0]\"", await badModel.Content.ReadAsStringAsync(), StringComparison.Ordinal);

        var key = JsonDocument.Parse(await (await admin.PostAsync("/admin/tenants/delta/keys", null)).Content.ReadAsStringAsync()).RootElement.GetProperty("Key").GetString()!;
        using var tenant = gateway.Client(key);
        using (var patched = await admin.PatchAsJsonAsync("/admin/tenants/delta", new { Disabled = true, Limits = new { MonthlyTokens = 10 } }))
        {
            using var json = JsonDocument.Parse(await patched.Content.ReadAsStringAsync());
            Assert.True(json.RootElement.GetProperty("Disabled").GetBoolean());
            Assert.Equal(10, json.RootElement.GetProperty("Limits").GetProperty("MonthlyTokens").GetInt64());
            Assert.Equal(LedgerGateway.Model, json.RootElement.GetProperty("AllowedModels")[0].GetString()); // absent fields stay
        }
        using (var disabled = await tenant.GetAsync("/v1/usage"))
            Assert.Equal(HttpStatusCode.Unauthorized, disabled.StatusCode);

        using (var configured = await admin.PatchAsJsonAsync("/admin/tenants/alpha", new { Disabled = true }))
            Assert.Equal(HttpStatusCode.Conflict, configured.StatusCode);
        // A configured tenant can still be given an issued key, and lists both kinds side by side.
        using (var alphaKey = await admin.PostAsync("/admin/tenants/alpha/keys", null))
            Assert.Equal(HttpStatusCode.Created, alphaKey.StatusCode);
        using var list = JsonDocument.Parse(await admin.GetStringAsync("/admin/tenants"));
        var tenants = list.RootElement.GetProperty("data").EnumerateArray().ToDictionary(t => t.GetProperty("Id").GetString()!, t => t.Clone());
        Assert.Equal(["alpha", "beta", "delta"], tenants.Keys.Order());
        Assert.Equal("configuration", tenants["alpha"].GetProperty("Source").GetString());
        Assert.Equal(["configuration", "api"], tenants["alpha"].GetProperty("Keys").EnumerateArray().Select(k => k.GetProperty("Source").GetString()));

        using (var deleted = await admin.DeleteAsync("/admin/tenants/delta"))
            Assert.Equal(HttpStatusCode.NoContent, deleted.StatusCode);
        using (var gone = await admin.GetAsync("/admin/tenants/delta"))
            Assert.Equal(HttpStatusCode.NotFound, gone.StatusCode);
    }

    private static async Task<List<string>> StoredKeyHashesAsync(LedgerGateway gateway, string tenantId)
    {
        await using var connection = await gateway.Store.Database.OpenAsync(CancellationToken.None);
        await using var command = connection.CreateCommand();
        command.CommandText = "SELECT * FROM tenant_keys WHERE tenant_id = 'gamma'";
        var hashes = new List<string>();
        await using var reader = await command.ExecuteReaderAsync();
        while (await reader.ReadAsync())
        {
            for (var i = 0; i < reader.FieldCount; i++)
            {
                if (reader.GetValue(i) is byte[] bytes) hashes.Add(Convert.ToHexStringLower(bytes));
            }
        }
        return hashes;
    }
}
