using System.Net;
using System.Text;

namespace OmniGateway.IntegrationTests.Observability;

/// <summary>Keys and base64 audio never reach a log line; each accepted call logs exactly one UsageRecorded.</summary>
public sealed class SecretsStaySecretTests : GatewayTest
{
    [Fact]
    public async Task Logs_HoldNoKeyNoAudio_AndOneUsageRecordPerAcceptedCall()
    {
        using var client = Gateway.CreateTenantClient();
        using var wrongKey = Gateway.CreateTenantClient("og-wrong-key-cccccccccccccccccccccccccccc");
        var inline = Fixtures.Request("inline-base64-wav.json");
        var audioBase64 = Convert.ToBase64String(Fixtures.Audio("question-tone-0.1s-16k-mono16.wav"));
        Assert.Contains(audioBase64, inline);

        using (var ok = await client.PostAsync("/v1/responses", new StringContent(inline, Encoding.UTF8, "application/json")))
            Assert.Equal(HttpStatusCode.OK, ok.StatusCode);
        using (var refused = await client.PostAsync("/v1/responses", new StringContent(inline.Replace("Serena", "Nobody", StringComparison.Ordinal), Encoding.UTF8, "application/json")))
            Assert.Equal(HttpStatusCode.BadRequest, refused.StatusCode);
        using (var unauthorised = await wrongKey.PostAsync("/v1/responses", new StringContent(inline, Encoding.UTF8, "application/json")))
            Assert.Equal(HttpStatusCode.Unauthorized, unauthorised.StatusCode);
        Upstream.Respond = context => FakeUpstream.ErrorAsync(context, 500, $"{{\"error\":{{\"message\":\"{GatewayFactory.UpstreamKey}\"}}}}");
        using (var failed = await client.PostAsync("/v1/responses", new StringContent(inline, Encoding.UTF8, "application/json")))
            Assert.Equal(HttpStatusCode.BadGateway, failed.StatusCode);

        var logs = Gateway.Logs.AllText();
        Assert.DoesNotContain(GatewayFactory.TenantKey, logs);
        Assert.DoesNotContain("og-wrong-key", logs);
        Assert.DoesNotContain(GatewayFactory.UpstreamKey, logs);
        Assert.DoesNotContain(audioBase64[..40], logs);

        // Every answer, error or not, is sent only after its record is stored and logged: no waiting here.
        var usage = Gateway.Logs.GetSnapshot().Where(e => e.Message.StartsWith("UsageRecorded", StringComparison.Ordinal)).ToArray();
        Assert.Equal(2, usage.Length);
        Assert.Equal("completed", usage[0].GetStructuredStateValue("Outcome"));
        Assert.Equal("web", usage[0].GetStructuredStateValue("TenantId"));
        Assert.Equal("Serena", usage[0].GetStructuredStateValue("Voice"));
        var expected = Fixtures.Usage("text-audio.sse"); // what FakeUpstream plays by default
        Assert.Equal(expected.Input, usage[0].GetStructuredStateValue("InputTokens"));
        Assert.Equal(expected.Total, usage[0].GetStructuredStateValue("TotalTokens"));
        Assert.Equal(expected.ResponseId, usage[0].GetStructuredStateValue("UpstreamResponseId"));
        Assert.Equal("upstream_error", usage[1].GetStructuredStateValue("Outcome"));
    }
}
