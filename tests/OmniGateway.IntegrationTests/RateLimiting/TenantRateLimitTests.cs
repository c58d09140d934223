using System.Net;
using System.Text;
using System.Text.Json;

namespace OmniGateway.IntegrationTests.RateLimiting;

public sealed class TenantRateLimitTests
{
    private static StringContent Body() =>
        new("""{"model":"qwen3.5-omni-plus-all","input":"Hi","stream":true}""", Encoding.UTF8, "application/json");

    private static async Task<string?> CodeOf(HttpResponseMessage response)
    {
        using var document = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        return document.RootElement.GetProperty("error").GetProperty("code").GetString();
    }

    [Fact]
    public async Task RequestPastTheMinuteLimit_Gets429WithRetryAfter_OtherEndpointsDoNotCount()
    {
        await using var gateway = new GatewayFactory(upstream: null, new Dictionary<string, string?>
        {
            ["Gateway:Tenants:0:Limits:RequestsPerMinute"] = "2",
        });
        using var client = gateway.CreateTenantClient();
        for (var i = 0; i < 3; i++) (await client.GetAsync("/v1/models")).Dispose();

        using var first = await client.PostAsync("/v1/responses", Body());
        using var second = await client.PostAsync("/v1/responses", Body());
        using var third = await client.PostAsync("/v1/responses", Body());

        Assert.Equal(HttpStatusCode.OK, first.StatusCode);
        Assert.Equal(HttpStatusCode.OK, second.StatusCode);
        Assert.Equal(HttpStatusCode.TooManyRequests, third.StatusCode);
        Assert.Equal("requests_per_minute_exceeded", await CodeOf(third));
        Assert.True(third.Headers.RetryAfter?.Delta > TimeSpan.Zero);
    }

    [Fact]
    public async Task StreamPastTheConcurrencyLimit_Gets429_WhileTheFirstIsOpen()
    {
        await using var upstream = await FakeUpstream.StartAsync();
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var events = Fixtures.SplitEvents(Fixtures.Stream("text-only.sse"));
        upstream.Respond = async context =>
        {
            context.Response.ContentType = "text/event-stream";
            await context.Response.Body.WriteAsync(events[0]);
            await context.Response.Body.FlushAsync();
            await release.Task.WaitAsync(TimeSpan.FromSeconds(10));
            foreach (var sseEvent in events.Skip(1)) await context.Response.Body.WriteAsync(sseEvent);
        };
        await using var gateway = new GatewayFactory(upstream.BaseUrl, new Dictionary<string, string?>
        {
            ["Gateway:Tenants:0:Limits:ConcurrentStreams"] = "1",
        });
        using var client = gateway.CreateTenantClient();

        using var open = await client.SendAsync(new HttpRequestMessage(HttpMethod.Post, "/v1/responses") { Content = Body() },
            HttpCompletionOption.ResponseHeadersRead);
        using var refused = await client.PostAsync("/v1/responses", Body());
        using var otherTenant = gateway.CreateTenantClient(GatewayFactory.RestrictedKey);
        using var unaffected = await otherTenant.PostAsync("/v1/responses", Body());
        release.SetResult();
        await open.Content.ReadAsStringAsync();
        using var afterwards = await client.PostAsync("/v1/responses", Body());

        Assert.Equal(HttpStatusCode.OK, open.StatusCode);
        Assert.Equal(HttpStatusCode.TooManyRequests, refused.StatusCode);
        Assert.Equal("concurrent_streams_exceeded", await CodeOf(refused));
        Assert.NotNull(refused.Headers.RetryAfter);
        Assert.NotEqual(HttpStatusCode.TooManyRequests, unaffected.StatusCode);
        Assert.Equal(HttpStatusCode.OK, afterwards.StatusCode);
    }
}
