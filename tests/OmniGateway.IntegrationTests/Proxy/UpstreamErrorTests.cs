using System.Net;
using System.Text.Json;

namespace OmniGateway.IntegrationTests.Proxy;

/// <summary>An upstream refusal or failure reaches the client as the contract's error, scrubbed of every secret.</summary>
public sealed class UpstreamErrorTests : GatewayTest
{
    [Fact]
    public async Task EmptyUpstream200_Returns502UpstreamEmptyResponse()
    {
        Upstream.Respond = context => { context.Response.ContentType = "text/event-stream"; return Task.CompletedTask; };

        using var response = await PostAsync(Fixtures.Request("text-only.json"));

        Assert.Equal(HttpStatusCode.BadGateway, response.StatusCode);
        var error = await ErrorOf(response);
        Assert.Equal("upstream_empty_response", error.GetProperty("code").GetString());
        Assert.Equal("upstream_error", error.GetProperty("type").GetString());
    }

    [Fact]
    public async Task Upstream500EchoingTheKey_IsScrubbed()
    {
        // Shaped like a real provider key (sk- and 26 letters) so the scrubber must catch it by shape; built
        // here rather than written out, so no key-shaped literal sits in the repository for scanners to flag.
        var keyShapedToken = "sk-" + string.Concat(Enumerable.Range(0, 26).Select(i => (char)('a' + i)));
        Upstream.Respond = context =>
        {
            context.Response.Headers["x-upstream-secret"] = "leak";
            return FakeUpstream.ErrorAsync(context, 500,
                $$$"""{"error":{"message":"internal failure for key {{{GatewayFactory.UpstreamKey}}} (Bearer {{{GatewayFactory.UpstreamKey}}}) token {{{keyShapedToken}}}"}}""");
        };

        using var response = await PostAsync(Fixtures.Request("text-only.json"));
        var text = await response.Content.ReadAsStringAsync();

        Assert.Equal(HttpStatusCode.BadGateway, response.StatusCode);
        Assert.DoesNotContain(GatewayFactory.UpstreamKey, text);
        Assert.DoesNotContain(keyShapedToken, text);
        Assert.Contains("internal failure", text);
        Assert.False(response.Headers.Contains("x-upstream-secret"));
        using var document = JsonDocument.Parse(text);
        Assert.Equal("upstream_error", document.RootElement.GetProperty("error").GetProperty("code").GetString());
    }

    [Theory]
    [InlineData(401, HttpStatusCode.BadGateway, "upstream_auth_failed")]
    [InlineData(403, HttpStatusCode.BadGateway, "upstream_auth_failed")]
    [InlineData(400, HttpStatusCode.BadRequest, "bad_param")]
    [InlineData(422, (HttpStatusCode)422, "bad_param")]
    [InlineData(503, HttpStatusCode.BadGateway, "upstream_error")]
    public async Task UpstreamErrorStatus_IsMappedPerContract(int upstreamStatus, HttpStatusCode expected, string code)
    {
        Upstream.Respond = context => FakeUpstream.ErrorAsync(context, upstreamStatus, """{"error":{"message":"nope","type":"x","code":"bad_param"}}""");

        using var response = await PostAsync(Fixtures.Request("text-only.json"));

        Assert.Equal(expected, response.StatusCode);
        Assert.Equal(code, (await ErrorOf(response)).GetProperty("code").GetString());
    }

    [Fact]
    public async Task Upstream429_Returns429WithRetryAfter()
    {
        Upstream.Respond = context =>
        {
            context.Response.Headers.RetryAfter = "7";
            return FakeUpstream.ErrorAsync(context, 429, """{"error":{"message":"slow down"}}""");
        };

        using var response = await PostAsync(Fixtures.Request("text-only.json"));

        Assert.Equal(HttpStatusCode.TooManyRequests, response.StatusCode);
        Assert.Equal(TimeSpan.FromSeconds(7), response.Headers.RetryAfter?.Delta);
        Assert.Equal("upstream_rate_limited", (await ErrorOf(response)).GetProperty("code").GetString());
    }
}
