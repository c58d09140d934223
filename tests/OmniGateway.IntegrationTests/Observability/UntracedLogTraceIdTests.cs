using System.Net;
using System.Text;
using System.Text.Json;

namespace OmniGateway.IntegrationTests.Observability;

/// <summary>
/// Without an OTLP endpoint nothing records spans and ASP.NET Core's hosting logger is off (issue 11: its
/// per-request scope), yet every log line of a call still carries the request's trace id, continued from the
/// caller's traceparent: the gateway as operators run it (its own process, Production, JSON logs).
/// </summary>
public sealed class UntracedLogTraceIdTests
{
    [Fact]
    public async Task WithoutAnOtlpEndpoint_EveryLogLineOfACall_CarriesTheCallersTraceId()
    {
        await using var upstream = await FakeUpstream.StartAsync();
        var workingDirectory = Path.Combine(Path.GetTempPath(), "og-untraced-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(workingDirectory);
        try
        {
            await using var gateway = await GatewayProcess.StartAsync(new Dictionary<string, string?>(GatewayFactory.ProcessSettings(upstream, workingDirectory))
            {
                ["Logging:Format"] = "Json",
            }, workingDirectory);

            const string traceId = "4bf92f3577b34da6a3ce929d0e0e4736";
            const string requestId = "untraced-call-1";
            using var client = new HttpClient { BaseAddress = gateway.BaseUrl, Timeout = TimeSpan.FromSeconds(30) };
            using var request = new HttpRequestMessage(HttpMethod.Post, "/v1/responses")
            {
                Content = new StringContent("""{"model":"qwen3.5-omni-plus-all","input":"Hi","stream":true}""", Encoding.UTF8, "application/json"),
            };
            request.Headers.Authorization = new("Bearer", GatewayFactory.TenantKey);
            request.Headers.Add("traceparent", $"00-{traceId}-00f067aa0ba902b7-01");
            request.Headers.Add("x-request-id", requestId);
            using var response = await client.SendAsync(request);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            Assert.Contains("event: response.completed", await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);

            var lines = await gateway.OfRequestAsync(requestId);
            var access = Assert.Single(lines, l => l.TryGetProperty("StatusCode", out _) && l.TryGetProperty("DurationMs", out _));
            Assert.Equal(traceId, access.GetProperty("TraceId").GetString());
            Assert.Single(lines, l => l.TryGetProperty("UpstreamResponseId", out _)); // UsageRecorded
            Assert.All(lines, l => Assert.Equal(traceId, l.GetProperty("@tr").GetString()));
            // The hosting scope's RequestPath is gone with its logger (the access line names the path itself);
            // Kestrel's connection scope, opened once per connection, still names the connection.
            Assert.All(lines, l => Assert.False(l.TryGetProperty("RequestPath", out _)));
            Assert.All(lines, l => Assert.True(l.TryGetProperty("ConnectionId", out _)));
            Assert.Equal("/v1/responses", access.GetProperty("Path").GetString());
        }
        finally
        {
            try { Directory.Delete(workingDirectory, recursive: true); } catch (IOException) { }
        }
    }
}
