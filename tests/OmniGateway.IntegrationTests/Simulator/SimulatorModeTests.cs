using System.Net;
using System.Net.ServerSentEvents;
using System.Text;
using System.Text.Json;

namespace OmniGateway.IntegrationTests.Simulator;

/// <summary>With no upstream key, a newcomer still gets a real streamed answer — and is told it is simulated.</summary>
public sealed class SimulatorModeTests() : GatewayTest(withUpstream: false)
{
    [Fact]
    public async Task NoUpstreamKey_StreamsASimulatedAnswerWithAudio()
    {
        using var response = await Client.PostAsync("/v1/responses",
            new StringContent("""{"model":"qwen3.5-omni-plus-all","input":"Say hello","stream":true}""", Encoding.UTF8, "application/json"));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("simulator", response.Headers.GetValues("x-omnigateway-upstream").Single());
        var events = new List<SseItem<string>>();
        await foreach (var item in SseParser.Create(await response.Content.ReadAsStreamAsync()).EnumerateAsync()) events.Add(item);

        Assert.Equal("response.created", events[0].EventType);
        Assert.Contains(events, e => e.EventType == "response.output_text.delta");
        var done = events.Single(e => e.EventType == "response.output_item.done");
        using var item2 = JsonDocument.Parse(done.Data);
        var audio = item2.RootElement.GetProperty("item").GetProperty("content").EnumerateArray()
            .Single(p => p.TryGetProperty("audio", out _)).GetProperty("audio");
        var wav = Convert.FromBase64String(audio.GetProperty("data").GetString()!);
        Assert.Equal("RIFF", Encoding.ASCII.GetString(wav, 0, 4));
        Assert.Equal("WAVE", Encoding.ASCII.GetString(wav, 8, 4));
        var completed = events.Single(e => e.EventType == "response.completed");
        using var usage = JsonDocument.Parse(completed.Data);
        Assert.True(usage.RootElement.GetProperty("response").GetProperty("usage").GetProperty("total_tokens").GetInt32() > 0);
        Assert.Equal("[DONE]", events[^1].Data);
    }

    [Fact]
    public async Task ReadyzAndLog_SayTheGatewayIsSimulated()
    {
        using var document = JsonDocument.Parse(await Client.GetStringAsync("/readyz"));

        Assert.Contains("SIMULATOR", document.RootElement.GetProperty("checks").GetProperty("upstream").GetProperty("description").GetString());
        Assert.Contains(Gateway.Logs.GetSnapshot(), e => e.Message.Contains("SIMULATOR MODE", StringComparison.Ordinal));
    }

    [Fact]
    public async Task StreamFalse_AgainstTheSimulator_ReturnsAResponseObjectWithWav()
    {
        using var response = await Client.PostAsync("/v1/responses",
            new StringContent("""{"model":"qwen3.5-omni-plus-all","input":"Hi"}""", Encoding.UTF8, "application/json"));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        using var document = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        var content = document.RootElement.GetProperty("output")[0].GetProperty("content");
        Assert.Contains("You asked: \"Hi\"", content[0].GetProperty("text").GetString());
        Assert.Equal("wav", content[1].GetProperty("audio").GetProperty("format").GetString());
    }
}
