using System.Net;
using System.Text;

namespace OmniGateway.IntegrationTests.Hardening;

/// <summary>Issue 9.1: the upstream's in-band error prose reaches the client scrubbed; other events pass byte for byte.</summary>
public sealed class StreamErrorScrubbingTests : GatewayTest
{
    // Built at run time: no real-looking key literal in the repository.
    private static readonly string KeyShaped = "sk-" + new string('Q', 8) + Guid.NewGuid().ToString("N");

    private async Task<string> StreamAsync(byte[] upstreamStream)
    {
        Upstream.Respond = context => FakeUpstream.PlayAsync(context, upstreamStream, TimeSpan.Zero);
        using var response = await Client.PostAsync("/v1/responses",
            new StringContent("""{"model":"qwen3.5-omni-plus-all","input":"Hi","stream":true,"modalities":["text"]}""", Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return await response.Content.ReadAsStringAsync();
    }

    private static string Created(string id) =>
        $"event: response.created\ndata: {{\"type\":\"response.created\",\"sequence_number\":0,\"response\":{{\"id\":\"{id}\",\"status\":\"in_progress\",\"output\":[]}}}}\n\n";

    [Fact]
    public async Task ErrorEvent_EchoingTheServerKey_ReachesTheClientScrubbed()
    {
        var created = Created("resp_0f167d01dffae3160c0a400d573f58da");
        var error = "event: error\ndata: {\"type\":\"error\",\"sequence_number\":1,\"code\":\"invalid_api_key\"," +
                    $"\"message\":\"Received Authorization: {GatewayFactory.UpstreamKey}; also tried {KeyShaped}\",\"param\":null}}\n\n";
        var body = await StreamAsync(Encoding.UTF8.GetBytes(created + error + "data: [DONE]\n\n"));

        Assert.DoesNotContain(GatewayFactory.UpstreamKey, body);
        Assert.DoesNotContain("upstream-server-secret", body);
        Assert.DoesNotContain(KeyShaped, body);
        Assert.Contains("[redacted]", body);
        Assert.Contains("event: error\ndata: {\"type\":\"error\",\"sequence_number\":1,\"code\":\"invalid_api_key\"", body);
        // The ordinary event went through unparsed, every byte as sent.
        Assert.StartsWith(created, body);
        Assert.EndsWith("data: [DONE]\n\n", body);
    }

    [Fact]
    public async Task ResponseFailed_EchoingTheServerKey_ReachesTheClientScrubbed_WithItsIdIntact()
    {
        const string id = "resp_c7660a0d4c02f5bec0bd011fd904f591";
        var failed = "event: response.failed\r\ndata: {\"type\":\"response.failed\",\"sequence_number\":1,\"response\":{\"id\":\"" + id +
                     "\",\"status\":\"failed\",\"error\":{\"code\":\"server_error\",\"message\":\"upstream saw 'Bearer " + GatewayFactory.UpstreamKey +
                     "'\"},\"metadata\":{\"echo\":\"" + GatewayFactory.UpstreamKey + "\"}}}\r\n\r\n";
        var body = await StreamAsync(Encoding.UTF8.GetBytes(Created(id) + failed));

        Assert.DoesNotContain(GatewayFactory.UpstreamKey, body);
        Assert.DoesNotContain("upstream-server-secret", body);
        Assert.Contains("event: response.failed\ndata: ", body);
        Assert.Contains($"\"id\":\"{id}\"", body[body.IndexOf("response.failed", StringComparison.Ordinal)..]);
        Assert.Contains("\"message\":\"upstream saw '[redacted]", body);
    }

    [Fact]
    public async Task ErrorEvent_WithoutJson_IsScrubbedAsText()
    {
        var body = await StreamAsync(Encoding.UTF8.GetBytes(Created("resp_1") + $"event: error\ndata: key {GatewayFactory.UpstreamKey} refused\n\n"));
        Assert.DoesNotContain(GatewayFactory.UpstreamKey, body);
        Assert.Contains("event: error\ndata: key [redacted] refused\n\n", body);
    }
}
