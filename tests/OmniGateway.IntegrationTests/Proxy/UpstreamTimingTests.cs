using System.Net;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.Time.Testing;

namespace OmniGateway.IntegrationTests.Proxy;

/// <summary>Timeouts, keep-alives and body limits: the edges of the proxy path, each with its own settings.</summary>
public sealed class UpstreamTimingTests : IAsyncLifetime
{
    private FakeUpstream _upstream = null!; // created in InitializeAsync

    public async Task InitializeAsync() => _upstream = await FakeUpstream.StartAsync();

    public async Task DisposeAsync() => await _upstream.DisposeAsync();

    private async Task<HttpResponseMessage> PostAsync(GatewayFactory gateway, string body)
    {
        var client = gateway.CreateTenantClient();
        return await client.SendAsync(new HttpRequestMessage(HttpMethod.Post, "/v1/responses")
        {
            Content = new StringContent(body, Encoding.UTF8, "application/json"),
        });
    }

    [Fact]
    public async Task SilentUpstream_Returns504BeforeTheFirstEvent()
    {
        // The deadline runs on the gateway's TimeProvider, armed before the upstream is called: once the upstream
        // holds the request, moving the clock past the timeout is what a silent second would do.
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        await using var gateway = new GatewayFactory(_upstream.BaseUrl, new Dictionary<string, string?> { ["Upstream:FirstByteTimeout"] = "00:00:01" }, time);
        var upstreamHasIt = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        _upstream.Respond = async context =>
        {
            context.Response.ContentType = "text/event-stream";
            await context.Response.Body.FlushAsync();
            upstreamHasIt.TrySetResult();
            await Task.Delay(TimeSpan.FromSeconds(10), context.RequestAborted);
        };

        var call = PostAsync(gateway, Fixtures.Request("text-only.json"));
        await upstreamHasIt.Task.WaitAsync(TimeSpan.FromSeconds(10));
        time.Advance(TimeSpan.FromSeconds(1));
        using var response = await call;

        Assert.Equal(HttpStatusCode.GatewayTimeout, response.StatusCode);
        using var document = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        Assert.Equal("upstream_timeout", document.RootElement.GetProperty("error").GetProperty("code").GetString());
    }

    [Fact]
    public async Task UnreachableUpstream_Returns502InTheErrorShape()
    {
        var closedPort = new Uri("http://127.0.0.1:9"); // discard port: nothing listens there
        await using var gateway = new GatewayFactory(closedPort);

        using var response = await PostAsync(gateway, Fixtures.Request("text-only.json"));

        Assert.Equal(HttpStatusCode.BadGateway, response.StatusCode);
        using var document = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        Assert.Equal("upstream_error", document.RootElement.GetProperty("error").GetProperty("code").GetString());
        Assert.Contains(gateway.Logs.GetSnapshot(), e => e.Message.StartsWith("UsageRecorded", StringComparison.Ordinal)
                                                   && e.GetStructuredStateValue("Outcome") == "upstream_error");
    }

    [Fact]
    public async Task UpstreamGoingSilentMidStream_EndsWithAnErrorEvent()
    {
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        await using var gateway = new GatewayFactory(_upstream.BaseUrl, new Dictionary<string, string?> { ["Upstream:IdleTimeout"] = "00:00:01" }, time);
        var events = Fixtures.SplitEvents(Fixtures.Stream("text-only.sse"));
        _upstream.Respond = async context =>
        {
            context.Response.ContentType = "text/event-stream";
            foreach (var sseEvent in events.Take(3)) await context.Response.Body.WriteAsync(sseEvent);
            await context.Response.Body.FlushAsync();
            await Task.Delay(TimeSpan.FromSeconds(10), context.RequestAborted);
        };

        // The headers arrive with the first event; from then on each idle second is a step of the gateway's clock
        // (the idle timer is re-armed as each event is read, so the clock moves until the stream has ended).
        using var client = gateway.CreateTenantClient();
        using var response = await client.SendAsync(new HttpRequestMessage(HttpMethod.Post, "/v1/responses")
        {
            Content = new StringContent(Fixtures.Request("text-only.json"), Encoding.UTF8, "application/json"),
        }, HttpCompletionOption.ResponseHeadersRead);
        var reading = response.Content.ReadAsStringAsync();
        for (var step = 0; step < 200 && !reading.IsCompleted; step++)
        {
            time.Advance(TimeSpan.FromSeconds(1));
            await Task.WhenAny(reading, Task.Delay(50));
        }
        var text = await reading;

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Contains("event: error\ndata: {\"type\":\"error\",\"code\":\"upstream_stream_interrupted\"", text);
        Assert.Contains("idle timeout", text);
    }

    [Fact]
    public async Task KeepAliveCommentsAlone_DoNotCountAsAnAnswer()
    {
        await using var gateway = new GatewayFactory(_upstream.BaseUrl);
        _upstream.Respond = context => FakeUpstream.ErrorAsync(context, 200, ": keep-alive\n\n: still here\n\n", "text/event-stream");

        using var response = await PostAsync(gateway, Fixtures.Request("text-only.json"));

        Assert.Equal(HttpStatusCode.BadGateway, response.StatusCode);
        using var document = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        Assert.Equal("upstream_empty_response", document.RootElement.GetProperty("error").GetProperty("code").GetString());
    }

    [Fact]
    public async Task KeepAliveBeforeTheFirstEvent_IsRelayedWithIt()
    {
        await using var gateway = new GatewayFactory(_upstream.BaseUrl);
        var stream = Encoding.UTF8.GetBytes(": ping\r\n\r\n").Concat(Fixtures.Stream("text-only.sse")).ToArray();
        _upstream.Respond = context => FakeUpstream.ErrorAsync(context, 200, Encoding.UTF8.GetString(stream), "text/event-stream");

        using var response = await PostAsync(gateway, Fixtures.Request("text-only.json"));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(stream, await response.Content.ReadAsByteArrayAsync());
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task BodyOverTheConfiguredLimit_Returns413WithoutCallingUpstream(bool chunked)
    {
        await using var gateway = new GatewayFactory(_upstream.BaseUrl, new Dictionary<string, string?> { ["Gateway:MaxRequestBodyBytes"] = "4096" });
        var body = $$"""{"model":"qwen3.5-omni-plus-all","input":"{{new string('a', 100_000)}}"}""";
        using var client = gateway.CreateTenantClient();
        HttpContent content = chunked
            ? new StreamContent(new MemoryStream(Encoding.UTF8.GetBytes(body)))
            : new StringContent(body, Encoding.UTF8, "application/json");
        content.Headers.ContentType = new System.Net.Http.Headers.MediaTypeHeaderValue("application/json");

        using var response = await client.PostAsync("/v1/responses", content);

        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, response.StatusCode);
        using var document = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        Assert.Equal("request_too_large", document.RootElement.GetProperty("error").GetProperty("code").GetString());
        Assert.Empty(_upstream.Requests);
    }

    [Fact]
    public async Task InlineAudioOf10MB_Returns413NamingTheField()
    {
        await using var gateway = new GatewayFactory(_upstream.BaseUrl);
        var wav = Convert.ToBase64String(Fixtures.Audio("question-tone-0.1s-16k-mono16.wav"));
        var huge = wav + new string('A', 10_485_760 - wav.Length);
        var body = $$$"""{"model":"qwen3.5-omni-plus-all","input":[{"role":"user","content":[{"type":"input_audio","input_audio":{"data":"{{{huge}}}","format":"wav"}}]}]}""";

        using var response = await PostAsync(gateway, body);

        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, response.StatusCode);
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(text.Length < 2000, "the error must not echo the payload");
        using var document = JsonDocument.Parse(text);
        Assert.Equal("input[0].content[0].input_audio.data", document.RootElement.GetProperty("error").GetProperty("param").GetString());
        Assert.Empty(_upstream.Requests);
    }
}
