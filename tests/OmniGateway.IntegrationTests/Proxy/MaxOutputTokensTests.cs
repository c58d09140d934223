using System.Net;
using System.Text.Json.Nodes;
using OmniGateway.IntegrationTests.Usage;
using OmniGateway.Usage;

namespace OmniGateway.IntegrationTests.Proxy;

/// <summary>
/// The fake upstream stops at <c>max_output_tokens</c> as the real model does, so tests of output caps
/// (budgets' hard bound) see what production would: <c>response.incomplete</c>, billed at the cap.
/// </summary>
public sealed class MaxOutputTokensTests
{
    [Fact]
    public async Task CappedCall_EndsIncomplete_AndIsRecordedAtTheCap()
    {
        await using var store = await TestStore.CreateAsync("Sqlite");
        await using var upstream = await FakeUpstream.StartAsync();
        upstream.Respond = c => FakeUpstream.PlayAsync(c, Fixtures.Stream("text-audio.sse"), TimeSpan.Zero);
        await using var gateway = new LedgerGateway(store, upstream.BaseUrl);
        using var client = gateway.Client(LedgerGateway.AlphaKey);
        var body = JsonNode.Parse(Fixtures.Request("text-audio.json"))!;
        body["max_output_tokens"] = 100;

        var capped = await StreamClient.PostAsync(client, body.ToJsonString(), "capped-1");
        var uncapped = await StreamClient.PostAsync(client, Fixtures.Request("text-audio.json"), "uncapped-1");

        Assert.Equal(HttpStatusCode.OK, capped.Status);
        Assert.Contains("event: response.incomplete", capped.Body, StringComparison.Ordinal);
        Assert.Contains("\"reason\":\"max_output_tokens\"", capped.Body, StringComparison.Ordinal);
        Assert.DoesNotContain("event: response.completed", capped.Body, StringComparison.Ordinal);
        Assert.EndsWith("data: [DONE]\n\n", capped.Body, StringComparison.Ordinal);
        Assert.Equal(100, StreamClient.Tokens(capped.Usage!.Value, "output_tokens"));
        Assert.True(capped.Body.Length < uncapped.Body.Length / 2, "the capped answer stops early");
        Assert.True(uncapped.SawCompleted);

        var records = (await gateway.Store.ReadRecordsAsync(null, CancellationToken.None)).Select(r => r.Record).ToDictionary(r => r.RequestId);
        Assert.Equal(UsageOutcome.Incomplete, records["capped-1"].Outcome);
        Assert.Equal((879L, 100L, 979L), (records["capped-1"].Usage!.InputTokens, records["capped-1"].Usage!.OutputTokens, records["capped-1"].Usage!.TotalTokens));
        Assert.Equal(UsageOutcome.Completed, records["uncapped-1"].Outcome);
    }
}
