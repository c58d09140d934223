using System.Text;

namespace OmniGateway.IntegrationTests.Proxy;

/// <summary>A client that leaves mid-stream is billed truthfully: Cancel stops the upstream, Drain reads its usage.</summary>
public sealed class ClientAbortTests : IAsyncLifetime
{
    private FakeUpstream _upstream = null!; // created in InitializeAsync

    public async Task InitializeAsync()
    {
        _upstream = await FakeUpstream.StartAsync();
        _upstream.Respond = context => FakeUpstream.PlayAsync(context, Fixtures.Stream("text-audio.sse"), TimeSpan.FromMilliseconds(50));
    }

    public async Task DisposeAsync() => await _upstream.DisposeAsync();

    /// <summary>
    /// A client that really hangs up: HttpClient would otherwise drain up to 1 MB of a disposed
    /// response to reuse the connection, and a short answer would arrive whole.
    /// </summary>
    private static async Task LeaveAfterFirstBytesAsync(HttpClient tenantClient)
    {
        using var client = new HttpClient(new SocketsHttpHandler { MaxResponseDrainSize = 0 }) { BaseAddress = tenantClient.BaseAddress };
        client.DefaultRequestHeaders.Authorization = tenantClient.DefaultRequestHeaders.Authorization;
        var response = await client.SendAsync(new HttpRequestMessage(HttpMethod.Post, "/v1/responses")
        {
            Content = new StringContent(Fixtures.Request("text-audio.json"), Encoding.UTF8, "application/json"),
        }, HttpCompletionOption.ResponseHeadersRead);
        var stream = await response.Content.ReadAsStreamAsync();
        Assert.True(await stream.ReadAsync(new byte[64]) > 0);
        response.Dispose();
    }

    private static async Task<CapturedLog> UsageRecordAsync(GatewayFactory gateway)
    {
        for (var attempt = 0; attempt < 100; attempt++)
        {
            var record = gateway.Logs.Entries.FirstOrDefault(e => e.Message.StartsWith("UsageRecorded", StringComparison.Ordinal));
            if (record is not null) return record;
            await Task.Delay(100);
        }
        throw new TimeoutException("no UsageRecorded event within 10 s");
    }

    [Fact]
    public async Task Cancel_ClosesTheUpstream_AndRecordsClientAbortedWithoutInventedUsage()
    {
        await using var gateway = new GatewayFactory(_upstream.BaseUrl);
        using var client = gateway.CreateTenantClient();

        await LeaveAfterFirstBytesAsync(client);

        var record = await UsageRecordAsync(gateway);
        Assert.Equal("client_aborted", record.Properties["Outcome"]);
        Assert.True(string.IsNullOrEmpty(record.Properties["TotalTokens"]), "no usage was reported, so none is recorded");
        Assert.Same(_upstream.RequestAborted.Task, await Task.WhenAny(_upstream.RequestAborted.Task, Task.Delay(5000)));
    }

    [Fact]
    public async Task Drain_ReadsTheUpstreamToItsUsage_AndRecordsItAsClientAborted()
    {
        await using var gateway = new GatewayFactory(_upstream.BaseUrl, new Dictionary<string, string?>
        {
            ["Usage:OnClientAbort"] = "Drain",
        });
        using var client = gateway.CreateTenantClient();

        await LeaveAfterFirstBytesAsync(client);

        var record = await UsageRecordAsync(gateway);
        Assert.Equal("client_aborted", record.Properties["Outcome"]);
        Assert.Equal("879", record.Properties["InputTokens"]);
        Assert.Equal("2768", record.Properties["TotalTokens"]);
        Assert.Equal("resp_21decad20f2e3587ed476f07125503ad", record.Properties["UpstreamResponseId"]);
        Assert.False(_upstream.RequestAborted.Task.IsCompleted, "a drained upstream finishes its answer instead of being cut off");
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
        using var client = gateway.CreateTenantClient();

        await LeaveAfterFirstBytesAsync(client);

        var record = await UsageRecordAsync(gateway);
        Assert.Equal("client_aborted", record.Properties["Outcome"]);
        Assert.True(string.IsNullOrEmpty(record.Properties["TotalTokens"]));
    }
}
