using System.Net.ServerSentEvents;
using System.Text;
using Microsoft.Extensions.Logging.Testing;

namespace OmniGateway.IntegrationTests.Proxy;

/// <summary>A client that leaves mid-stream is billed truthfully: Cancel stops the upstream, Drain reads its usage.</summary>
public sealed class ClientAbortTests : IAsyncLifetime
{
    private static readonly ExpectedUsage TextAudio = Fixtures.Usage("text-audio.sse");

    private FakeUpstream _upstream = null!; // created in InitializeAsync

    public async Task InitializeAsync()
    {
        _upstream = await FakeUpstream.StartAsync();
        _upstream.Respond = context => FakeUpstream.PlayAsync(context, Fixtures.Stream("text-audio.sse"), TimeSpan.FromMilliseconds(50));
    }

    public async Task DisposeAsync() => await _upstream.DisposeAsync();

    /// <summary>
    /// A client that really hangs up once <paramref name="readUntilLeaving"/> returns: HttpClient would otherwise
    /// drain up to 1 MB of a disposed response to reuse the connection, and a short answer would arrive whole.
    /// </summary>
    private static async Task CallAndHangUpAsync(HttpClient tenantClient, Func<Stream, Task> readUntilLeaving)
    {
        using var client = new HttpClient(new SocketsHttpHandler { MaxResponseDrainSize = 0 }) { BaseAddress = tenantClient.BaseAddress };
        client.DefaultRequestHeaders.Authorization = tenantClient.DefaultRequestHeaders.Authorization;
        var response = await client.SendAsync(new HttpRequestMessage(HttpMethod.Post, "/v1/responses")
        {
            Content = new StringContent(Fixtures.Request("text-audio.json"), Encoding.UTF8, "application/json"),
        }, HttpCompletionOption.ResponseHeadersRead);
        await readUntilLeaving(await response.Content.ReadAsStreamAsync());
        response.Dispose();
    }

    private static Task LeaveAfterFirstBytesAsync(HttpClient tenantClient) => CallAndHangUpAsync(tenantClient, async stream =>
        Assert.True(await stream.ReadAsync(new byte[64]) > 0));

    /// <summary>
    /// A client that reads until it holds the whole answer — the last <c>response.output_item.done</c>,
    /// which carries the text and the WAV — and hangs up before <c>response.completed</c>.
    /// </summary>
    private static Task LeaveAfterOutputItemDoneAsync(HttpClient tenantClient) => CallAndHangUpAsync(tenantClient, async stream =>
    {
        var sawItemDone = false;
        await foreach (var item in SseParser.Create(stream).EnumerateAsync())
        {
            Assert.DoesNotContain("response.completed", item.EventType + "\n" + item.Data, StringComparison.Ordinal);
            if (item.EventType == "response.output_item.done") { sawItemDone = true; break; }
        }
        Assert.True(sawItemDone);
    });

    /// <summary>The sample answer, pausing <paramref name="pause"/> after its output item is done (the upstream finishing its accounting).</summary>
    private static Func<Microsoft.AspNetCore.Http.HttpContext, Task> PauseBeforeCompleted(TimeSpan pause) => async context =>
    {
        context.Response.ContentType = "text/event-stream";
        foreach (var sseEvent in Fixtures.SplitEvents(Fixtures.Stream("text-audio.sse")))
        {
            await context.Response.Body.WriteAsync(sseEvent, context.RequestAborted);
            await context.Response.Body.FlushAsync(context.RequestAborted);
            var itemDone = Encoding.UTF8.GetString(sseEvent).StartsWith("event: response.output_item.done", StringComparison.Ordinal);
            await Task.Delay(itemDone ? pause : TimeSpan.FromMilliseconds(5), context.RequestAborted);
        }
    };

    [Fact]
    public async Task Cancel_ClientLeavingOnceTheLastOutputItemIsDone_IsBilledTheUpstreamsUsage()
    {
        _upstream.Respond = PauseBeforeCompleted(TimeSpan.FromSeconds(2));
        await using var gateway = new GatewayFactory(_upstream.BaseUrl);
        var record = await AbortedRecordAsync(gateway, LeaveAfterOutputItemDoneAsync);
        AssertBilledTheWholeAnswer(record);
    }

    [Fact]
    public async Task Cancel_ClientLeavingOnceTheContentIsComplete_WaitsForTheUsageOnlyUpToDrainAfterContentTimeout()
    {
        _upstream.Respond = PauseBeforeCompleted(TimeSpan.FromSeconds(30));
        await using var gateway = new GatewayFactory(_upstream.BaseUrl, new Dictionary<string, string?>
        {
            ["Usage:DrainAfterContentTimeout"] = "00:00:00.300",
        });
        var record = await AbortedRecordAsync(gateway, LeaveAfterOutputItemDoneAsync);
        Assert.True(string.IsNullOrEmpty(record.GetStructuredStateValue("TotalTokens")), "no usage arrived within the bound, and none is invented");
        Assert.Same(_upstream.RequestAborted.Task, await Task.WhenAny(_upstream.RequestAborted.Task, Task.Delay(5000)));
    }

    /// <summary>A tenant's client leaves as <paramref name="leave"/> does; the usage record the gateway then logs must say client_aborted.</summary>
    private static async Task<FakeLogRecord> AbortedRecordAsync(GatewayFactory gateway, Func<HttpClient, Task> leave)
    {
        using var client = gateway.CreateTenantClient();
        await leave(client);
        var record = await gateway.Logs.UsageRecordAsync();
        Assert.Equal("client_aborted", record.GetStructuredStateValue("Outcome"));
        return record;
    }

    [Fact]
    public async Task Cancel_ClosesTheUpstream_AndRecordsClientAbortedWithoutInventedUsage()
    {
        // An upstream still mid-answer seconds later: under load the default 2 ms per event could finish the
        // whole answer before the gateway hears of the hang-up, and a finished request is never aborted.
        _upstream.Respond = context => FakeUpstream.PlayAsync(context, Fixtures.Stream("text-audio.sse"), TimeSpan.FromMilliseconds(100));
        await using var gateway = new GatewayFactory(_upstream.BaseUrl);
        var record = await AbortedRecordAsync(gateway, LeaveAfterFirstBytesAsync);
        Assert.True(string.IsNullOrEmpty(record.GetStructuredStateValue("TotalTokens")), "no usage was reported, so none is recorded");
        Assert.Same(_upstream.RequestAborted.Task, await Task.WhenAny(_upstream.RequestAborted.Task, Task.Delay(5000)));
    }

    [Fact]
    public async Task Drain_ReadsTheUpstreamToItsUsage_AndRecordsItAsClientAborted()
    {
        await using var gateway = new GatewayFactory(_upstream.BaseUrl, new Dictionary<string, string?>
        {
            ["Usage:OnClientAbort"] = "Drain",
        });
        var record = await AbortedRecordAsync(gateway, LeaveAfterFirstBytesAsync);
        AssertBilledTheWholeAnswer(record);
    }

    /// <summary>The client left, yet the upstream finished its answer (it was not cut off) and the record bills what it reported.</summary>
    private void AssertBilledTheWholeAnswer(FakeLogRecord record)
    {
        Assert.Equal(TextAudio.Input, record.GetStructuredStateValue("InputTokens"));
        Assert.Equal(TextAudio.Output, record.GetStructuredStateValue("OutputTokens"));
        Assert.Equal(TextAudio.Total, record.GetStructuredStateValue("TotalTokens"));
        Assert.Equal(TextAudio.ResponseId, record.GetStructuredStateValue("UpstreamResponseId"));
        Assert.False(_upstream.RequestAborted.Task.IsCompleted, "the upstream was read to its end instead of being cut off");
    }

    [Fact]
    public async Task Drain_GivesUpAtItsDeadline_StillRecordingTheAbort()
    {
        _upstream.Respond = context => FakeUpstream.PlayAsync(context, Fixtures.Stream("text-audio.sse"), TimeSpan.FromSeconds(1));
        await using var gateway = new GatewayFactory(_upstream.BaseUrl, new Dictionary<string, string?>
        {
            ["Usage:OnClientAbort"] = "Drain",
            ["Usage:DrainTimeout"] = "00:00:00.500",
        });
        var record = await AbortedRecordAsync(gateway, LeaveAfterFirstBytesAsync);
        Assert.True(string.IsNullOrEmpty(record.GetStructuredStateValue("TotalTokens")));
    }
}
