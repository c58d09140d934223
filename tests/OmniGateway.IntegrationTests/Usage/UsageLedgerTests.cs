using System.Collections.Concurrent;
using System.Net;
using System.Text.Json;

namespace OmniGateway.IntegrationTests.Usage;

public sealed class UsageLedgerTests
{
    [Theory, EveryStore]
    public async Task ConcurrentStreamsOfTwoTenants_LedgerSumsEqualExactlyWhatTheUpstreamReported(string provider)
    {
        await using var store = await TestStore.CreateAsync(provider);
        await using var gateway = new LedgerGateway(store);
        using var alpha = gateway.Client(LedgerGateway.AlphaKey);
        using var beta = gateway.Client(LedgerGateway.BetaKey);

        // Different inputs give different usage, so a record landing on the wrong tenant changes a sum.
        var results = new ConcurrentBag<(string Tenant, StreamResult Result)>();
        await Parallel.ForAsync(0, 60, new ParallelOptions { MaxDegreeOfParallelism = 60 }, async (i, ct) =>
        {
            var (tenant, client) = i % 3 == 0 ? ("beta", beta) : ("alpha", alpha);
            var input = $"Question {i}: " + new string('x', i * 7);
            results.Add((tenant, await StreamClient.PostAsync(client, StreamClient.Request(input, audio: i % 2 == 0), cancellationToken: ct)));
        });

        Assert.All(results, r => Assert.True(r.Result.SawCompleted, r.Result.Body));
        foreach (var (tenant, client) in new[] { ("alpha", alpha), ("beta", beta) })
        {
            var sent = results.Where(r => r.Tenant == tenant).Select(r => r.Result.Usage!.Value).ToList();
            var row = Assert.Single(await UsageDataAsync(client, "/v1/usage"));
            Assert.Equal(tenant, row.GetProperty("tenant").GetString());
            Assert.Equal(sent.Count, row.GetProperty("requests").GetInt64());
            Assert.Equal(sent.Sum(u => StreamClient.Tokens(u, "input_tokens")), row.GetProperty("input_tokens").GetInt64());
            Assert.Equal(sent.Sum(u => StreamClient.Tokens(u, "output_tokens")), row.GetProperty("output_tokens").GetInt64());
            Assert.Equal(sent.Sum(u => StreamClient.Tokens(u, "total_tokens")), row.GetProperty("total_tokens").GetInt64());
        }
        using var admin = gateway.Client(LedgerGateway.AdminKey);
        var all = await UsageDataAsync(admin, "/admin/usage");
        Assert.Equal(["alpha", "beta"], all.Select(r => r.GetProperty("tenant").GetString()).Order());
        Assert.Equal(results.Sum(r => StreamClient.Tokens(r.Result.Usage!.Value, "total_tokens")), all.Sum(r => r.GetProperty("total_tokens").GetInt64()));
        var onlyBeta = await UsageDataAsync(admin, "/admin/usage?tenant=beta&granularity=day");
        Assert.Equal("beta", Assert.Single(onlyBeta).GetProperty("tenant").GetString());
    }

    [Theory, EveryStore]
    public async Task UsageQueries_RefuseBadParameters_NamingThem_AndAnswerCsv(string provider)
    {
        await using var store = await TestStore.CreateAsync(provider);
        await using var gateway = new LedgerGateway(store);
        using var alpha = gateway.Client(LedgerGateway.AlphaKey);
        var result = await StreamClient.PostAsync(alpha, StreamClient.Request("Hello"));

        foreach (var (query, param) in new[] { ("from=yesterday", "from"), ("to=2026-13-01", "to"), ("granularity=week", "granularity"),
                     ("from=2026-05-02&to=2026-05-01", "to") })
        {
            using var response = await alpha.GetAsync("/v1/usage?" + query);
            Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
            using var error = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
            Assert.Equal(param, error.RootElement.GetProperty("error").GetProperty("param").GetString());
            Assert.Equal("invalid_request_error", error.RootElement.GetProperty("error").GetProperty("type").GetString());
        }

        using var csvRequest = new HttpRequestMessage(HttpMethod.Get, "/v1/usage?granularity=hour");
        csvRequest.Headers.Accept.ParseAdd("text/csv");
        using var csv = await alpha.SendAsync(csvRequest);
        Assert.Equal("text/csv", csv.Content.Headers.ContentType?.MediaType);
        var lines = (await csv.Content.ReadAsStringAsync()).Split("\r\n", StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal("tenant,model,period_start,requests,input_tokens,cached_tokens,output_tokens,reasoning_tokens,total_tokens,unreported_requests,reserved_tokens,cost,currency", lines[0]);
        var cells = Assert.Single(lines[1..]).Split(',');
        Assert.Equal(["alpha", LedgerGateway.Model], cells[..2]);
        Assert.EndsWith(":00:00Z", cells[2], StringComparison.Ordinal);
        Assert.Equal(StreamClient.Tokens(result.Usage!.Value, "total_tokens").ToString(System.Globalization.CultureInfo.InvariantCulture), cells[8]);

        using var since = await alpha.GetAsync("/v1/usage?from=2000-01-01T00:00:00Z&granularity=total");
        var total = Assert.Single(await DataOf(since));
        Assert.Equal("2000-01-01T00:00:00Z", total.GetProperty("period_start").GetString()); // a total's period starts at 'from'
        Assert.Equal(1, total.GetProperty("requests").GetInt64());

        using var future = await alpha.GetAsync("/v1/usage?from=2099-01-01T00:00:00Z");
        Assert.Empty(await DataOf(future));
    }

    private static async Task<List<JsonElement>> UsageDataAsync(HttpClient client, string path)
    {
        using var response = await client.GetAsync(path);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return await DataOf(response);
    }

    private static async Task<List<JsonElement>> DataOf(HttpResponseMessage response)
    {
        using var document = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        Assert.Equal("list", document.RootElement.GetProperty("object").GetString());
        return document.RootElement.GetProperty("data").EnumerateArray().Select(e => e.Clone()).ToList();
    }
}
