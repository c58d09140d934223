using System.Net;
using System.Text;
using System.Text.Json;

namespace OmniGateway.IntegrationTests.Observability;

/// <summary>
/// The gateway as operators run it (its own process, Production, JSON logs), exporting over OTLP/HTTP protobuf
/// to a collector faked on loopback, configured only by the standard OTEL_* variables.
/// </summary>
public sealed class TracingTests : IAsyncLifetime
{
    // Distinctive, so finding it anywhere in an export would mean content leaked into telemetry.
    private const string Prompt = "describe the purple walrus of aisle 4471";

    private FakeUpstream _upstream = null!;
    private FakeOtlpCollector _collector = null!;
    private ChildProcess _gateway = null!;
    private string _workingDirectory = null!;

    public async Task InitializeAsync()
    {
        _upstream = await FakeUpstream.StartAsync();
        _collector = await FakeOtlpCollector.StartAsync();
        _workingDirectory = Path.Combine(Path.GetTempPath(), "og-otlp-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(_workingDirectory);
        _gateway = await GatewayProcess.StartAsync(new Dictionary<string, string?>(GatewayFactory.ProcessSettings(_upstream, _workingDirectory))
        {
            ["Logging:Format"] = "Json",
            ["OTEL_EXPORTER_OTLP_ENDPOINT"] = _collector.BaseUrl.ToString().TrimEnd('/'),
            ["OTEL_EXPORTER_OTLP_PROTOCOL"] = "http/protobuf",
            // Export within a fraction of a second instead of the default 5 s (spans) and 60 s (metrics).
            ["OTEL_BSP_SCHEDULE_DELAY"] = "100",
            ["OTEL_METRIC_EXPORT_INTERVAL"] = "500",
        }, _workingDirectory);
    }

    public async Task DisposeAsync()
    {
        await _gateway.DisposeAsync();
        await _collector.DisposeAsync();
        await _upstream.DisposeAsync();
        try { Directory.Delete(_workingDirectory, recursive: true); } catch (IOException) { }
    }

    [Fact]
    public async Task Call_ExportsItsSpan_WithTheUpstreamCallAsChild_AndNoContentOrKeys()
    {
        using var client = new HttpClient { BaseAddress = _gateway.BaseUrl, Timeout = TimeSpan.FromSeconds(30) };
        using var request = new HttpRequestMessage(HttpMethod.Post, "/v1/responses")
        {
            Content = new StringContent($$$"""{"model":"qwen3.5-omni-plus-all","input":"{{{Prompt}}}","stream":true,"modalities":["text","audio"],"audio":{"voice":"Tina"}}""",
                Encoding.UTF8, "application/json"),
        };
        request.Headers.Authorization = new("Bearer", GatewayFactory.TenantKey);
        using var response = await client.SendAsync(request);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        await response.Content.ReadAsStringAsync();
        var requestId = response.Headers.GetValues("x-request-id").Single();

        OtlpSpan? Server() => _collector.Spans.FirstOrDefault(s => s.Kind == OtlpSpanKind.Server && s.Attribute("omnigateway.request_id") == requestId);
        Assert.True(await _collector.WaitUntilAsync(() => Server() is { } s && _collector.Spans.Any(c => c.ParentSpanId == s.SpanId), TimeSpan.FromSeconds(20)),
            "no server span with an upstream child arrived; spans: " + string.Join(", ", _collector.Spans.Select(s => $"{s.Kind} {s.Name}")));

        // 1. One span for the call, carrying its accounting.
        var server = Server()!;
        Assert.Equal("POST /v1/responses", server.Name);
        Assert.Equal("web", server.Attribute("omnigateway.tenant"));
        Assert.Equal("qwen3.5-omni-plus-all", server.Attribute("gen_ai.request.model"));
        Assert.Equal("Tina", server.Attribute("omnigateway.voice"));
        Assert.Equal("completed", server.Attribute("omnigateway.outcome"));
        Assert.Equal(Fixtures.Usage("text-audio.sse").Input, server.Attribute("gen_ai.usage.input_tokens")); // as the upstream reported it
        Assert.True(long.Parse(server.Attribute("gen_ai.usage.output_tokens")!) > 0);
        Assert.Single(_collector.Spans, s => s.Kind == OtlpSpanKind.Server && s.TraceId == server.TraceId);

        // 2. The upstream call as its child, in the same trace.
        var upstream = Assert.Single(_collector.Spans, s => s.ParentSpanId == server.SpanId);
        Assert.Equal(OtlpSpanKind.Client, upstream.Kind);
        Assert.Equal(server.TraceId, upstream.TraceId);
        Assert.Equal("POST", upstream.Name);
        Assert.Equal(_upstream.BaseUrl.Port.ToString(), upstream.Attribute("server.port"));
        Assert.Equal("200", upstream.Attribute("http.response.status_code"));
        // The span stays ours: no trace context goes to the third-party upstream (its headers are an allow-list).
        Assert.DoesNotContain(_upstream.Requests, r => r.Headers.ContainsKey("traceparent"));

        // 3. Metrics go over OTLP too.
        Assert.True(await _collector.WaitUntilAsync(() => _collector.MetricNames.Contains("omnigateway.responses"), TimeSpan.FromSeconds(20)),
            "omnigateway.responses was not exported over OTLP; got " + string.Join(", ", _collector.MetricNames.Distinct()));

        // 4. No content, no key anywhere in what was exported, byte for byte.
        var exported = _collector.TraceExports.Concat(_collector.MetricExports).Select(Encoding.UTF8.GetString).ToList();
        foreach (var secret in new[] { Prompt, "purple walrus", GatewayFactory.TenantKey, GatewayFactory.UpstreamKey, "Bearer" })
            Assert.DoesNotContain(exported, body => body.Contains(secret, StringComparison.Ordinal));

        // 5. Every log line of the request carries its trace id, the access-log line among them.
        var lines = await _gateway.OfRequestAsync(requestId);
        Assert.Contains(lines, l => l.GetProperty("RequestId").GetString() == requestId
            && l.TryGetProperty("UpstreamResponseId", out _)); // UsageRecorded
        var access = Assert.Single(lines, l => l.TryGetProperty("StatusCode", out _) && l.TryGetProperty("DurationMs", out _));
        Assert.Equal("POST", access.GetProperty("Method").GetString());
        Assert.Equal("/v1/responses", access.GetProperty("Path").GetString());
        Assert.Equal(200, access.GetProperty("StatusCode").GetInt32());
        Assert.Equal("web", access.GetProperty("TenantId").GetString());
        Assert.Equal(server.TraceId, access.GetProperty("TraceId").GetString());
        Assert.All(lines, l => Assert.Equal(server.TraceId, l.GetProperty("@tr").GetString()));
    }
}
