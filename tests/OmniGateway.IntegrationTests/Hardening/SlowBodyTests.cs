using System.Diagnostics;
using System.Globalization;
using System.Text;
using Microsoft.Extensions.Configuration;
using OmniGateway.IntegrationTests.Usage;

namespace OmniGateway.IntegrationTests.Hardening;

/// <summary>
/// A body trickled in just above Kestrel's minimum data rate (240 B/s) holds its buffer, a share of the budget every
/// caller draws on, and, when large enough to be streamed, an upstream connection, for as long as it lasts. At
/// <c>Gateway:RequestBodyTimeout</c> it ends in 408 with the connection closed; the upstream never gets the body's end,
/// and there is nothing to bill.
/// </summary>
public sealed class SlowBodyTests : IAsyncLifetime
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(1);

    // Content parts, not a string input: the scan forwards an array member as it arrives (a string input is rewritten).
    private const string BodyStart = "{\"model\":\"qwen3.5-omni-plus-all\",\"input\":[{\"role\":\"user\",\"content\":[{\"type\":\"input_text\",\"text\":\"";

    private FakeUpstream _upstream = null!; // created in InitializeAsync

    public async Task InitializeAsync() => _upstream = await FakeUpstream.StartAsync();

    public async Task DisposeAsync() => await _upstream.DisposeAsync();

    [Theory]
    [InlineData(64 * 1024)] // streamed: its first try is sending the body as it arrives
    [InlineData(0)]         // read whole before any try
    public async Task BodyStillTricklingAtTheTimeout_Is408_TheConnectionCloses_AndNothingIsSentWholeOrRecorded(long streamFrom)
    {
        await using var gateway = new GatewayFactory(_upstream.BaseUrl, new Dictionary<string, string?>
        {
            ["Gateway:RequestBodyTimeout"] = "00:00:01",
            ["Gateway:StreamRequestBodiesFromBytes"] = streamFrom.ToString(CultureInfo.InvariantCulture),
        });
        using var factoryClient = gateway.CreateTenantClient();
        await using var caller = await RawHttp.PostAsync(factoryClient.BaseAddress!, "/v1/responses", GatewayFactory.TenantKey, 200_000, BodyStart);
        var clock = Stopwatch.StartNew();

        // 2 KB every 100 ms: 20 KB/s, far above Kestrel's minimum rate, so only the gateway's own timeout can end it.
        using var stop = new CancellationTokenSource();
        var trickle = Task.Run(async () =>
        {
            var chunk = Encoding.ASCII.GetBytes(new string('a', 2048));
            try
            {
                while (!stop.IsCancellationRequested)
                {
                    await caller.SendAsync(chunk);
                    await Task.Delay(100, stop.Token);
                }
            }
            catch (Exception exception) when (exception is IOException or OperationCanceledException or ObjectDisposedException)
            {
                // the gateway closed the connection, as it should
            }
        });
        var (status, head) = await caller.ReadAnswerAsync(TimeSpan.FromSeconds(15));
        var answeredAfter = clock.Elapsed;
        await stop.CancelAsync();
        await trickle;

        Assert.Equal(408, status);
        Assert.Contains("\"code\":\"request_body_timeout\"", head, StringComparison.Ordinal);
        Assert.Contains("Gateway:RequestBodyTimeout", head, StringComparison.Ordinal);
        Assert.Contains("Connection: close", head, StringComparison.OrdinalIgnoreCase);
        Assert.InRange(answeredAfter, Timeout, Timeout + TimeSpan.FromSeconds(5));
        if (streamFrom > 0)
        {
            // The try had part of the body; it is cut short, never completed.
            await _upstream.BodyCutShort.Task.WaitAsync(TimeSpan.FromSeconds(10));
            Assert.True(_upstream.BodyBytesReceived > 0, "the streamed body's try sent nothing before the timeout");
        }
        else
        {
            Assert.Equal(0, _upstream.BodyBytesReceived);
        }
        Assert.Empty(_upstream.Requests);
        var records = await LedgerRecords.Of(gateway.Services).ReadRecordsAsync(null, CancellationToken.None);
        Assert.Empty(records);
    }

    [Theory]
    [InlineData("00:00:00")]
    [InlineData("-00:00:05")]
    public void ATimeoutThatIsNotPositive_StopsStartUp_NamingTheKey(string timeout)
    {
        var options = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?> { ["Gateway:RequestBodyTimeout"] = timeout }).Build()
            .GetSection("Gateway").Get<OmniGateway.Tenants.GatewayOptions>()!;

        var result = new OmniGateway.Tenants.GatewayOptionsValidator().Validate(null, options);

        Assert.True(result.Failed);
        Assert.Contains(result.Failures!, f => f.Contains("Gateway:RequestBodyTimeout must be a positive time span", StringComparison.Ordinal));
    }
}
