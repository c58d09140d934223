using System.Net;

namespace OmniGateway.IntegrationTests.Proxy;

/// <summary>What the upstream receives: the enriched body, the server key and none of the caller's credentials; a request refused by validation never reaches it.</summary>
public sealed class UpstreamRequestTests : GatewayTest
{
    [Fact]
    public async Task Enrichment_IsWhatTheUpstreamReceives()
    {
        using var response = await PostAsync("""
            {"model":"qwen3.5-omni-plus-all","input":"Hello","stream":true,"audio":{"voice":"tina"},
             "instructions":"Be brief.","x_custom":{"keep":[1,2]},"stream_options":{"foo":"bar"}}
            """);
        await response.Content.ReadAsByteArrayAsync();

        var sent = Assert.Single(Upstream.Requests);
        using var body = sent.Json();
        var root = body.RootElement;
        Assert.True(root.GetProperty("stream").GetBoolean());
        Assert.True(root.GetProperty("stream_options").GetProperty("include_usage").GetBoolean());
        Assert.Equal("bar", root.GetProperty("stream_options").GetProperty("foo").GetString());
        Assert.Equal(["text", "audio"], root.GetProperty("modalities").EnumerateArray().Select(m => m.GetString()));
        Assert.Equal("Tina", root.GetProperty("audio").GetProperty("voice").GetString());
        Assert.Equal("wav", root.GetProperty("audio").GetProperty("format").GetString());
        Assert.Equal("Be brief.", root.GetProperty("instructions").GetString());
        Assert.Equal("[1,2]", root.GetProperty("x_custom").GetProperty("keep").GetRawText());
        var message = Assert.Single(root.GetProperty("input").EnumerateArray());
        Assert.Equal("user", message.GetProperty("role").GetString());
        Assert.Equal("Hello", message.GetProperty("content")[0].GetProperty("text").GetString());
    }

    [Fact]
    public async Task UpstreamRequest_CarriesServerKeyAndNoCallerCredential()
    {
        var request = new HttpRequestMessage(HttpMethod.Post, "/v1/responses") { Content = Json(Fixtures.Request("text-only.json")) };
        request.Headers.Add("Cookie", "session=secret-cookie");
        request.Headers.Add("x-api-key", GatewayFactory.TenantKey);
        request.Headers.Add("Connection", "keep-alive");
        request.Headers.Add("x-internal-trace", "do-not-forward");
        using var response = await Client.SendAsync(request);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);

        var sent = Assert.Single(Upstream.Requests);
        Assert.Equal(GatewayFactory.UpstreamKey, sent.Headers["Authorization"]);
        var allHeaders = string.Join("\n", sent.Headers.Select(h => h.Key + ": " + h.Value));
        Assert.DoesNotContain(GatewayFactory.TenantKey, allHeaders);
        Assert.DoesNotContain("secret-cookie", allHeaders);
        Assert.DoesNotContain("do-not-forward", allHeaders);
        Assert.False(sent.Headers.ContainsKey("x-api-key"));
        Assert.False(sent.Headers.ContainsKey("Accept-Encoding"));
    }

    [Fact]
    public async Task UnknownVoice_Returns400WithNearest_NeverCallsUpstream()
    {
        using var response = await PostAsync("""{"model":"qwen3.5-omni-plus-all","input":"Hi","stream":true,"audio":{"voice":"Serenna"}}""");

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        var error = await ErrorOf(response);
        Assert.Equal("unknown_voice", error.GetProperty("code").GetString());
        Assert.Equal("audio.voice", error.GetProperty("param").GetString());
        Assert.Equal("invalid_request_error", error.GetProperty("type").GetString());
        Assert.Contains("Did you mean 'Serena'?", error.GetProperty("message").GetString());
        Assert.Contains("Tina", error.GetProperty("message").GetString());
        Assert.Empty(Upstream.Requests);
    }

    private const string MutationChars = "{}[]\",:0a\\ \u00e9";

    [Fact]
    public async Task RandomMalformedBodies_NeverCauseA500()
    {
        var random = new Random(20261125);
        var samples = Directory.GetFiles(Path.Combine(AppContext.BaseDirectory, "fixtures", "upstream", "requests"), "*.json")
            .Select(File.ReadAllText).ToArray();
        var junk = new[] { "null", "[]", "{}", "1", "\"x\"", "{\"input\":[{}]}", "{\"model\":1}", "[[[[", "\u0000", "{\"model\":\"qwen3.5-omni-plus-all\",\"input\":[{\"role\":\"user\",\"content\":[{\"type\":\"input_audio\",\"input_audio\":{\"data\":\"%%%\",\"format\":\"wav\"}}]}]}" };
        var statuses = new List<HttpStatusCode>();
        for (var i = 0; i < 200; i++)
        {
            string body;
            if (i < junk.Length) body = junk[i];
            else
            {
                var chars = samples[random.Next(samples.Length)].ToCharArray();
                var mutations = random.Next(1, 6);
                for (var m = 0; m < mutations; m++) chars[random.Next(chars.Length)] = MutationChars[random.Next(MutationChars.Length)];
                body = random.Next(4) == 0 ? new string(chars, 0, random.Next(chars.Length)) : new string(chars);
            }
            using var response = await PostAsync(body);
            await response.Content.ReadAsByteArrayAsync();
            statuses.Add(response.StatusCode);
        }
        Assert.DoesNotContain(statuses, s => (int)s >= 500 && s != HttpStatusCode.BadGateway);
        Assert.DoesNotContain(HttpStatusCode.InternalServerError, statuses);
    }
}
