using System.Globalization;
using System.Net;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.Time.Testing;

namespace OmniGateway.IntegrationTests.Usage;

/// <summary>Issue 12 items 1 and 2: every record priced exactly with the version in force, and attributed by its tags.</summary>
public sealed class SpendTests
{
    // Audio split out as the OpenAI Realtime API reports it; the cost below is worked out by hand from these figures.
    private const string KnownUsage = """{"input_tokens":1000,"input_tokens_details":{"cached_tokens":200,"audio_tokens":300},"output_tokens":500,"output_tokens_details":{"reasoning_tokens":50,"audio_tokens":120},"total_tokens":1500}""";
    private const string FixtureUsage = """{"input_tokens":36,"input_tokens_details":{"cached_tokens":0},"output_tokens":58,"output_tokens_details":{"reasoning_tokens":0},"total_tokens":94}""";

    private static readonly Dictionary<string, string?> TwoPriceVersions = new()
    {
        [$"Models:{LedgerGateway.Model}:Prices:0:EffectiveFrom"] = "2026-01-01T00:00:00Z",
        [$"Models:{LedgerGateway.Model}:Prices:0:Currency"] = "USD",
        [$"Models:{LedgerGateway.Model}:Prices:0:InputPerMillion"] = "2.5",
        [$"Models:{LedgerGateway.Model}:Prices:0:CachedInputPerMillion"] = "1.25",
        [$"Models:{LedgerGateway.Model}:Prices:0:OutputPerMillion"] = "10",
        [$"Models:{LedgerGateway.Model}:Prices:0:AudioInputPerMillion"] = "40",
        [$"Models:{LedgerGateway.Model}:Prices:0:AudioOutputPerMillion"] = "80",
        [$"Models:{LedgerGateway.Model}:Prices:1:EffectiveFrom"] = "2026-05-01T00:00:00Z",
        [$"Models:{LedgerGateway.Model}:Prices:1:Currency"] = "USD",
        [$"Models:{LedgerGateway.Model}:Prices:1:InputPerMillion"] = "3",
        [$"Models:{LedgerGateway.Model}:Prices:1:CachedInputPerMillion"] = "0.3",
        [$"Models:{LedgerGateway.Model}:Prices:1:OutputPerMillion"] = "12.5",
    };

    [Theory, EveryStore]
    public async Task EachRecord_IsPricedExactly_WithTheVersionInForceWhenItStarted_AndALaterPriceChangeNeverRewritesIt(string provider)
    {
        await using var store = await TestStore.CreateAsync(provider);
        await using var upstream = await FakeUpstream.StartAsync();
        var stream = Encoding.UTF8.GetBytes(Encoding.UTF8.GetString(Fixtures.Stream("text-only.sse")).Replace(FixtureUsage, KnownUsage, StringComparison.Ordinal));
        upstream.Respond = c => FakeUpstream.PlayAsync(c, stream, TimeSpan.Zero);
        var time = new FakeTimeProvider(new DateTimeOffset(2026, 4, 30, 23, 59, 59, TimeSpan.Zero));

        await using (var gateway = new LedgerGateway(store, upstream.BaseUrl, TwoPriceVersions, time))
        {
            using var client = gateway.Client(LedgerGateway.AlphaKey);
            Assert.True((await StreamClient.PostAsync(client, Fixtures.Request("text-only.json"), "before-change")).SawCompleted);
            time.SetUtcNow(new DateTimeOffset(2026, 5, 1, 0, 0, 0, TimeSpan.Zero)); // the new version's first instant
            Assert.True((await StreamClient.PostAsync(client, Fixtures.Request("text-only.json"), "after-change")).SawCompleted);

            var records = (await gateway.Store.ReadRecordsAsync("alpha", CancellationToken.None)).ToDictionary(r => r.Record.RequestId, r => r.Record);
            // v1: (1000-200-300)×2.5 + 200×1.25 + 300×40 + (500-120)×10 + 120×80 = 26 900 per million → 0.0269
            Assert.Equal(0.0269m, records["before-change"].Cost!.Amount);
            Assert.Equal(DateTimeOffset.Parse("2026-01-01T00:00:00Z", CultureInfo.InvariantCulture), records["before-change"].Cost!.PriceEffectiveFrom);
            // v2 prices no audio apart: (1000-200)×3 + 200×0.3 + 500×12.5 = 8 710 per million → 0.00871
            Assert.Equal(0.00871m, records["after-change"].Cost!.Amount);
            Assert.Equal(DateTimeOffset.Parse("2026-05-01T00:00:00Z", CultureInfo.InvariantCulture), records["after-change"].Cost!.PriceEffectiveFrom);
            Assert.All(records.Values, r => Assert.Equal("USD", r.Cost!.Currency));

            var days = await UsageAsync(client, "/v1/usage?granularity=day&from=2026-04-01T00:00:00Z");
            Assert.Equal(["0.0269", "0.00871"], days.Select(d => d.GetProperty("cost").GetRawText()));
            Assert.All(days, d => Assert.Equal("USD", d.GetProperty("currency").GetString()));
        }

        // The operator "corrects" the first version afterwards: what was recorded keeps the price it was recorded with.
        var corrected = new Dictionary<string, string?>(TwoPriceVersions) { [$"Models:{LedgerGateway.Model}:Prices:0:InputPerMillion"] = "1000" };
        await using (var restarted = new LedgerGateway(store, upstream.BaseUrl, corrected, time))
        {
            using var admin = restarted.Client(LedgerGateway.AdminKey);
            var total = Assert.Single(await UsageAsync(admin, "/admin/usage?tenant=alpha&from=2026-04-01T00:00:00Z"));
            Assert.Equal("0.03561", total.GetProperty("cost").GetRawText());
            Assert.Equal(2, total.GetProperty("requests").GetInt64());

            using var csvRequest = new HttpRequestMessage(HttpMethod.Get, "/admin/usage?tenant=alpha&from=2026-04-01T00:00:00Z");
            csvRequest.Headers.Accept.ParseAdd("text/csv");
            using var csv = await admin.SendAsync(csvRequest);
            var lines = (await csv.Content.ReadAsStringAsync()).Split("\r\n", StringSplitOptions.RemoveEmptyEntries);
            Assert.EndsWith(",total_tokens,unreported_requests,reserved_tokens,cost,currency", lines[0], StringComparison.Ordinal);
            Assert.EndsWith(",3000,0,0,0.03561,USD", Assert.Single(lines[1..]), StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task PriceTable_IsCheckedAtStartUp_EachFailureNamingItsKey()
    {
        await using var store = await TestStore.CreateAsync("Sqlite");
        var broken = new Dictionary<string, string?>
        {
            [$"Models:{LedgerGateway.Model}:Prices:0:EffectiveFrom"] = "2026-01-01 00:00", // no offset: host-dependent
            [$"Models:{LedgerGateway.Model}:Prices:0:Currency"] = "usd",
            [$"Models:{LedgerGateway.Model}:Prices:0:InputPerMillion"] = "0.0000001",
            [$"Models:{LedgerGateway.Model}:Prices:0:OutputPerMillion"] = "-1",
        };
        await using var gateway = new LedgerGateway(store, settings: broken);
        var failure = Assert.ThrowsAny<Exception>(() => gateway.Client(LedgerGateway.AlphaKey));
        var message = failure.ToString();
        foreach (var key in (string[])["Prices:0:EffectiveFrom", "Prices:0:Currency", "Prices:0:InputPerMillion", "Prices:0:OutputPerMillion"])
            Assert.Contains($"Models:{LedgerGateway.Model}:{key}", message, StringComparison.Ordinal);
    }

    [Theory, EveryStore]
    public async Task Tags_FromMetadataAndHeader_AreStored_AndUsageGroupsAndFiltersByThem(string provider)
    {
        await using var store = await TestStore.CreateAsync(provider);
        await using var gateway = new LedgerGateway(store);
        using var alpha = gateway.Client(LedgerGateway.AlphaKey);

        Assert.True((await PostAsync(alpha, Body("""{"feature":"voice-search","team":"web"}"""), "env=prod, release=2026.5%2C1")).SawCompleted);
        Assert.True((await PostAsync(alpha, Body("""{"feature":"voice-search"}"""), null)).SawCompleted);
        Assert.True((await PostAsync(alpha, Body(null), "feature=chat")).SawCompleted); // header only
        Assert.True((await PostAsync(alpha, Body(null), null)).SawCompleted);            // untagged

        var records = (await gateway.Store.ReadRecordsAsync("alpha", CancellationToken.None)).Select(r => r.Record).ToList();
        Assert.Equal(4, records.Count);
        Assert.Equal(new Dictionary<string, string> { ["env"] = "prod", ["feature"] = "voice-search", ["release"] = "2026.5,1", ["team"] = "web" }, records[0].Tags);
        Assert.Empty(records[3].Tags);

        var byFeature = await UsageAsync(alpha, "/v1/usage?group_by=tag:feature");
        Assert.Equal(["chat", "voice-search", null], byFeature.Select(r => r.GetProperty("tag_value").GetString()));
        Assert.Equal([1L, 2L, 1L], byFeature.Select(r => r.GetProperty("requests").GetInt64()));
        Assert.All(byFeature, r => Assert.Equal("feature", r.GetProperty("tag_key").GetString()));
        var voiceRecords = records.Where(r => r.Tags.GetValueOrDefault("feature") == "voice-search").ToList();
        Assert.Equal(voiceRecords.Sum(r => r.Usage!.TotalTokens), byFeature[1].GetProperty("total_tokens").GetInt64());

        var voiceOnly = Assert.Single(await UsageAsync(alpha, "/v1/usage?tag=feature:voice-search"));
        Assert.Equal(2, voiceOnly.GetProperty("requests").GetInt64());
        Assert.False(voiceOnly.TryGetProperty("tag_value", out _));
        var both = Assert.Single(await UsageAsync(alpha, "/v1/usage?tag=feature:voice-search&tag=team:web"));
        Assert.Equal(1, both.GetProperty("requests").GetInt64());
        Assert.Empty(await UsageAsync(alpha, "/v1/usage?tag=feature:nothing-like-it"));

        using var admin = gateway.Client(LedgerGateway.AdminKey);
        var grouped = await UsageAsync(admin, "/admin/usage?group_by=tag:env&tag=feature:voice-search&granularity=day");
        Assert.Equal(["prod", null], grouped.Select(r => r.GetProperty("tag_value").GetString()));

        // Another tenant's tags are not the caller's usage.
        using var beta = gateway.Client(LedgerGateway.BetaKey);
        Assert.Empty(await UsageAsync(beta, "/v1/usage?tag=feature:voice-search"));

        using var csvRequest = new HttpRequestMessage(HttpMethod.Get, "/v1/usage?group_by=tag:feature");
        csvRequest.Headers.Accept.ParseAdd("text/csv");
        using var csv = await alpha.SendAsync(csvRequest);
        var lines = (await csv.Content.ReadAsStringAsync()).Split("\r\n", StringSplitOptions.RemoveEmptyEntries);
        Assert.EndsWith(",cost,currency,tag_value", lines[0], StringComparison.Ordinal);
        Assert.EndsWith(",voice-search", lines[2], StringComparison.Ordinal);
    }

    [Theory, EveryStore]
    public async Task TagsPastTheBounds_OrShapedLikeKeys_AreRefusedWith400NamingTheParam_AndLeaveNoRecord(string provider)
    {
        await using var store = await TestStore.CreateAsync(provider);
        await using var gateway = new LedgerGateway(store);
        using var alpha = gateway.Client(LedgerGateway.AlphaKey);
        // Built at run time: no key-shaped literal in the repository.
        var keyShaped = "sk-" + Convert.ToHexStringLower(Guid.NewGuid().ToByteArray())[..20];
        var seventeen = "{" + string.Join(",", Enumerable.Range(0, 17).Select(i => $"\"k{i}\":\"v\"")) + "}";

        var cases = new (string Body, string? Header, string Code, string Param)[]
        {
            (Body(seventeen), null, "too_many_tags", "metadata"),
            (Body("""{"a":"1"}"""), string.Join(",", Enumerable.Range(0, 16).Select(i => $"h{i}=v")), "too_many_tags", "x-omnigateway-tags"),
            (Body($$"""{"feature":"{{new string('v', 513)}}"}"""), null, "tag_value_too_long", "metadata.feature"),
            (Body($$"""{"{{new string('k', 65)}}":"v"}"""), null, "invalid_tag_key", "metadata." + new string('k', 64)),
            (Body("""{"feature":42}"""), null, "invalid_metadata", "metadata.feature"),
            (Body("\"voice\""), null, "invalid_metadata", "metadata"),
            (Body($$"""{"owner":"{{keyShaped}}"}"""), null, "tag_looks_like_key", "metadata"),
            (Body(null), "owner=" + keyShaped, "tag_looks_like_key", "x-omnigateway-tags"),
            (Body(null), "feature", "invalid_tags_header", "x-omnigateway-tags"),
            (Body(null), "bad key=1", "invalid_tag_key", "x-omnigateway-tags"),
            (Body("""{"feature":"a"}"""), "feature=b", "conflicting_tags", "x-omnigateway-tags"),
        };
        foreach (var (body, header, code, param) in cases)
        {
            var result = await PostAsync(alpha, body, header);
            Assert.True(result.Status == HttpStatusCode.BadRequest, $"{code}: {result.Status} {result.Body}");
            using var error = JsonDocument.Parse(result.Body);
            Assert.Equal(code, error.RootElement.GetProperty("error").GetProperty("code").GetString());
            Assert.StartsWith(param, error.RootElement.GetProperty("error").GetProperty("param").GetString(), StringComparison.Ordinal);
            Assert.DoesNotContain(keyShaped, result.Body, StringComparison.Ordinal);
        }
        Assert.Empty(await gateway.Store.ReadRecordsAsync(null, CancellationToken.None));

        using var bad = await alpha.GetAsync("/v1/usage?group_by=model");
        Assert.Equal(HttpStatusCode.BadRequest, bad.StatusCode);
        Assert.Contains("\"param\":\"group_by\"", await bad.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        using var badTag = await alpha.GetAsync("/v1/usage?tag=feature");
        Assert.Equal(HttpStatusCode.BadRequest, badTag.StatusCode);
        Assert.Contains("\"param\":\"tag\"", await badTag.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }

    private static string Body(string? metadata) =>
        $$"""{"model":"{{LedgerGateway.Model}}","input":"Tag me","stream":true,"modalities":["text"]{{(metadata is null ? "" : ",\"metadata\":" + metadata)}}}""";

    private static async Task<StreamResult> PostAsync(HttpClient client, string body, string? tags)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, "/v1/responses") { Content = new StringContent(body, Encoding.UTF8, "application/json") };
        if (tags is not null) request.Headers.Add("x-omnigateway-tags", tags);
        using var response = await client.SendAsync(request);
        var text = await response.Content.ReadAsStringAsync();
        return new StreamResult(response.StatusCode, text, text.Contains("event: response.completed", StringComparison.Ordinal), null, null);
    }

    private static async Task<JsonElement[]> UsageAsync(HttpClient client, string path)
    {
        using var response = await client.GetAsync(path);
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.OK, text);
        using var document = JsonDocument.Parse(text);
        return document.RootElement.GetProperty("data").EnumerateArray().Select(e => e.Clone()).ToArray();
    }
}
