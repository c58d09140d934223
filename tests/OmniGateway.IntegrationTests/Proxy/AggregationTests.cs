using System.Net;
using System.Text.Json;

namespace OmniGateway.IntegrationTests.Proxy;

/// <summary>stream:false: the gateway still streams from the upstream and answers with one response object.</summary>
public sealed class AggregationTests : GatewayTest
{
    [Fact]
    public async Task StreamFalse_IsAggregatedIntoOneResponseObject()
    {
        var expected = Fixtures.Expected("text-audio.sse");
        var body = Fixtures.Request("text-audio.json").Replace("\"stream\": true", "\"stream\": false", StringComparison.Ordinal);

        using var response = await PostAsync(body);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("application/json", response.Content.Headers.ContentType?.MediaType);
        using var document = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        var root = document.RootElement;
        Assert.Equal("response", root.GetProperty("object").GetString());
        Assert.Equal("completed", root.GetProperty("status").GetString());
        Assert.Equal(expected.GetProperty("responseId").GetString(), root.GetProperty("id").GetString());
        Assert.Equal("qwen3.5-omni-plus-all", root.GetProperty("model").GetString());
        var content = root.GetProperty("output")[0].GetProperty("content");
        Assert.Equal(expected.GetProperty("outputText").GetString(),
            content.EnumerateArray().Single(p => p.GetProperty("type").GetString() == "output_text").GetProperty("text").GetString());
        var audio = content.EnumerateArray().Single(p => p.TryGetProperty("audio", out _)).GetProperty("audio");
        Assert.Equal(Fixtures.Audio("answer-tone-0.3s-24k-mono16.wav"), Convert.FromBase64String(audio.GetProperty("data").GetString()!));
        Assert.Equal(ExpectedUsage.Of(expected).TotalTokens, root.GetProperty("usage").GetProperty("total_tokens").GetInt64());
        Assert.True(Upstream.Requests.Single().Json().RootElement.GetProperty("stream").GetBoolean());
    }
}
