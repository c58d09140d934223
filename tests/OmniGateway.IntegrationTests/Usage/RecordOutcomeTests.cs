using System.Net;
using OmniGateway.Usage;

namespace OmniGateway.IntegrationTests.Usage;

/// <summary>Every way a call can end produces exactly one record, saying how it ended and what the upstream reported.</summary>
public sealed class RecordOutcomeTests
{
    [Theory, EveryStore]
    public async Task EveryOutcome_ProducesExactlyOneRecord_WithTheUpstreamsUsageVerbatim(string provider)
    {
        await using var store = await TestStore.CreateAsync(provider);
        await using var upstream = await FakeUpstream.StartAsync();
        await using var gateway = new LedgerGateway(store, upstream.BaseUrl);
        using var client = gateway.Client(LedgerGateway.AlphaKey);
        var body = Fixtures.Request("text-audio.json");

        async Task<StreamResult> Play(string requestId, Func<Microsoft.AspNetCore.Http.HttpContext, Task> respond)
        {
            upstream.Respond = respond;
            return await StreamClient.PostAsync(client, body, requestId);
        }

        var completed = await Play("completed-1", c => FakeUpstream.PlayAsync(c, Fixtures.Stream("text-audio.sse"), TimeSpan.Zero));
        var incomplete = await Play("incomplete-1", c => FakeUpstream.PlayAsync(c, Fixtures.Stream("incomplete.sse"), TimeSpan.Zero));
        var failed = await Play("failed-1", c => FakeUpstream.PlayAsync(c, Fixtures.Stream("failed.sse"), TimeSpan.Zero));
        await Play("error-event-1", c => FakeUpstream.PlayAsync(c, Fixtures.Stream("error-event.sse"), TimeSpan.Zero));
        var upstreamError = await Play("upstream-error-1", c => FakeUpstream.ErrorAsync(c, 500, """{"error":{"message":"boom"}}"""));
        await Play("interrupted-1", c => FakeUpstream.PlayAsync(c, Fixtures.Stream("text-audio.sse"), TimeSpan.FromMilliseconds(5), abortAfterEvents: 6));
        await AbortMidStreamAsync(client, upstream, body, "aborted-1");
        var invalid = await StreamClient.PostAsync(client, """{"model":"qwen3.5-omni-plus-all","input":[]}""", "invalid-1");

        Assert.Equal(HttpStatusCode.BadGateway, upstreamError.Status);
        Assert.Equal(HttpStatusCode.BadRequest, invalid.Status);
        var records = await WaitForRecordsAsync(gateway, count: 7);
        Assert.Equal(7, records.Count);
        Assert.All(records.GroupBy(r => r.RequestId), g => Assert.Single(g)); // exactly one each
        var byId = records.ToDictionary(r => r.RequestId);
        Assert.DoesNotContain("invalid-1", byId.Keys); // refused before the upstream: not an accepted call

        Assert.Equal(UsageOutcome.Completed, byId["completed-1"].Outcome);
        Assert.Equal(completed.UsageJson, byId["completed-1"].Usage!.RawJson);
        var textAudio = Fixtures.Usage("text-audio.sse");
        Assert.Equal((textAudio.InputTokens, textAudio.OutputTokens, textAudio.TotalTokens), (byId["completed-1"].Usage!.InputTokens, byId["completed-1"].Usage!.OutputTokens, byId["completed-1"].Usage!.TotalTokens));
        Assert.StartsWith("resp_", byId["completed-1"].UpstreamResponseId, StringComparison.Ordinal);
        Assert.NotNull(byId["completed-1"].TimeToFirstByteMs);
        Assert.Equal(("alpha", LedgerGateway.Model), (byId["completed-1"].TenantId, byId["completed-1"].Model));

        Assert.Equal(UsageOutcome.Incomplete, byId["incomplete-1"].Outcome);
        Assert.Equal(incomplete.UsageJson, byId["incomplete-1"].Usage!.RawJson);
        Assert.Equal(UsageOutcome.Failed, byId["failed-1"].Outcome);
        Assert.Equal(failed.UsageJson, byId["failed-1"].Usage?.RawJson);
        Assert.Equal(UsageOutcome.Failed, byId["error-event-1"].Outcome);
        Assert.Equal(UsageOutcome.UpstreamError, byId["upstream-error-1"].Outcome);
        Assert.Equal(UsageOutcome.Interrupted, byId["interrupted-1"].Outcome);
        Assert.Equal(UsageOutcome.ClientAborted, byId["aborted-1"].Outcome);
        // Nothing reported, nothing invented: no zeros standing in for unknown usage.
        foreach (var id in (string[])["error-event-1", "upstream-error-1", "interrupted-1", "aborted-1"]) Assert.Null(byId[id].Usage);
    }

    /// <summary>The client reads the first event, then hangs up while the upstream is still streaming.</summary>
    private static async Task AbortMidStreamAsync(HttpClient client, FakeUpstream upstream, string body, string requestId)
    {
        upstream.Respond = c => FakeUpstream.PlayAsync(c, Fixtures.Stream("text-audio.sse"), TimeSpan.FromMilliseconds(200));
        using var request = new HttpRequestMessage(HttpMethod.Post, "/v1/responses") { Content = new StringContent(body, System.Text.Encoding.UTF8, "application/json") };
        request.Headers.Add("x-request-id", requestId);
        using var response = await client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
        await using var stream = await response.Content.ReadAsStreamAsync();
        var buffer = new byte[64];
        Assert.True(await stream.ReadAsync(buffer) > 0);
    }

    private static async Task<List<UsageRecord>> WaitForRecordsAsync(LedgerGateway gateway, int count)
    {
        // The aborted call's record is written when the gateway notices the hang-up, shortly after.
        for (var i = 0; ; i++)
        {
            var records = (await gateway.Store.ReadRecordsAsync(null, CancellationToken.None)).Select(r => r.Record).ToList();
            if (records.Count >= count || i == 100) return records;
            await Task.Delay(100);
        }
    }
}
