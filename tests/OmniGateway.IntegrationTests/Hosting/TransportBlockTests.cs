using System.Net;
using System.Text;
using System.Text.RegularExpressions;
using OmniGateway.Proxy;

namespace OmniGateway.IntegrationTests.Hosting;

/// <summary>
/// The gateway as operators run it (its own process: WebApplicationFactory's UseKestrel registers Kestrel's pool
/// again) reads through 16 KiB transport blocks, and a body of ~580 of them reaches the upstream unchanged.
/// </summary>
[Trait("Category", "Slow")]
public sealed partial class TransportBlockTests
{
    [Fact]
    public async Task NineMegabyteInlineAudio_ReachesTheUpstreamByteForByte_ThroughTheGatewaysBlocks()
    {
        await using var upstream = await FakeUpstream.StartAsync();
        var workingDirectory = Directory.CreateTempSubdirectory("og-blocks-");
        try
        {
            await using var gateway = await GatewayProcess.StartAsync(new Dictionary<string, string?>(GatewayFactory.ProcessSettings(upstream, workingDirectory.FullName))
            {
                ["Serilog:MinimumLevel:Default"] = "Warning",
            }, workingDirectory.FullName);
            using var client = new HttpClient { BaseAddress = gateway.BaseUrl, Timeout = TimeSpan.FromSeconds(30) };
            var before = await AllocatedBlockBytesAsync(client);

            // Each receive lands wherever the kernel split the stream: the base64 must be forwarded unchanged.
            var pcm = new byte[9 * 1024 * 1024 / 4 * 3 - 44];
            new Random(11).NextBytes(pcm);
            var wav = Wav.FromPcm16(pcm, sampleRate: 16_000, channels: 1);
            var audio = $"data:audio/wav;base64,{Convert.ToBase64String(wav)}";
            var body = $$$"""
                {"model":"qwen3.5-omni-plus-all","input":[{"role":"user","content":[{"type":"input_audio","input_audio":{"data":"{{{audio}}}","format":"wav"}},{"type":"input_text","text":"What is said here?"}]}],
                 "modalities":["text","audio"],"audio":{"voice":"Tina","format":"wav"}}
                """;
            using var request = new HttpRequestMessage(HttpMethod.Post, "/v1/responses") { Content = new StringContent(body, Encoding.UTF8, "application/json") };
            request.Headers.Authorization = new("Bearer", GatewayFactory.TenantKey);
            using var response = await client.SendAsync(request);
            await response.Content.ReadAsByteArrayAsync();

            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            var forwarded = Assert.Single(upstream.Requests).Json().RootElement;
            Assert.Equal(audio, forwarded.GetProperty("input")[0].GetProperty("content")[0].GetProperty("input_audio").GetProperty("data").GetString());
            // The body went through the gateway's pool: it made blocks for it (a few, then reused them).
            Assert.True(await AllocatedBlockBytesAsync(client) > before, "the transport made no block of its own for a 9 MiB body");
        }
        finally
        {
            try { workingDirectory.Delete(recursive: true); } catch (IOException) { }
        }
    }

    private static async Task<long> AllocatedBlockBytesAsync(HttpClient client)
    {
        var metrics = await client.GetStringAsync("/metrics");
        var sample = AllocatedSample().Match(metrics);
        return sample.Success ? long.Parse(sample.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture) : 0;
    }

    [GeneratedRegex(@"^omnigateway_transport_blocks_allocated_bytes_total(?:\{[^}]*\})? (\d+)", RegexOptions.Multiline)]
    private static partial Regex AllocatedSample();
}
