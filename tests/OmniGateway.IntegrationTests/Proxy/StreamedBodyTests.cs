using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using OmniGateway.IntegrationTests.Usage;
using OmniGateway.Proxy;
using OmniGateway.Usage;

namespace OmniGateway.IntegrationTests.Proxy;

/// <summary>
/// A large body goes upstream while it arrives (issue 11, target 5) and is completed only once accepted: the upstream
/// receives what it would have received whole, and a body refused at any step (validation, admission) or abandoned by
/// its caller never reaches the upstream complete — nothing the upstream could answer or bill.
/// </summary>
public sealed class StreamedBodyTests : IAsyncLifetime
{
    /// <summary>Streamed from 64 KiB here, so the bodies stay small; production streams from 1 MiB.</summary>
    private const int StreamFrom = 64 * 1024;

    private FakeUpstream _upstream = null!; // created in InitializeAsync

    public async Task InitializeAsync() => _upstream = await FakeUpstream.StartAsync();

    public async Task DisposeAsync() => await _upstream.DisposeAsync();

    private GatewayFactory Gateway(long streamFrom = StreamFrom, params (string Key, string Value)[] settings)
    {
        var all = new Dictionary<string, string?>
        {
            ["Gateway:StreamRequestBodiesFromBytes"] = streamFrom.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["Upstream:RetryBaseDelay"] = "00:00:00.020",
        };
        foreach (var (key, value) in settings) all[key] = value;
        return new GatewayFactory(_upstream.BaseUrl, all);
    }

    /// <summary>
    /// A plain client: the factory's own buffers a request's content before sending any of it (its redirect handler),
    /// so the gateway would never see a body arriving in parts.
    /// </summary>
    private static HttpClient Caller(GatewayFactory gateway)
    {
        using var factoryClient = gateway.CreateTenantClient();
        return new HttpClient { BaseAddress = factoryClient.BaseAddress, Timeout = TimeSpan.FromSeconds(30), DefaultRequestHeaders = { Authorization = new("Bearer", GatewayFactory.TenantKey) } };
    }

    [Fact]
    public async Task LargeBody_ReachesTheUpstreamBeforeTheCallerHasSentItAll_AndArrivesWhole()
    {
        await using var gateway = Gateway();
        using var client = Caller(gateway);
        var body = Request(""" "stream":true,"modalities":["text","audio"],"audio":{"voice":"tina"},"instructions":"Be brief." """);

        // The caller holds back its last quarter until the upstream has half: only a body sent as it arrives gets there.
        using var response = await PostAsync(client, new HeldBackContent(body, body.Length * 3 / 4,
            () => Until(() => _upstream.BodyBytesReceived >= body.Length / 2, "the upstream received nothing while the caller was still sending")));
        var answer = await response.Content.ReadAsStringAsync();

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Contains("event: response.completed", answer, StringComparison.Ordinal);
        var sent = Assert.Single(_upstream.Requests);
        Assert.Equal("chunked", sent.Headers["Transfer-Encoding"]);
        // The same allow-list as any try: the server key, what it asks for, which call; nothing of the caller's.
        Assert.Equal(GatewayFactory.UpstreamKey, sent.Headers["Authorization"]);
        Assert.Equal("text/event-stream", sent.Headers["Accept"]);
        Assert.False(string.IsNullOrEmpty(sent.Headers["x-request-id"]));
        Assert.DoesNotContain(GatewayFactory.TenantKey, string.Join("\n", sent.Headers.Select(h => h.Key + ": " + h.Value)), StringComparison.Ordinal);
        var root = JsonNode.Parse(sent.Body)!.AsObject();
        Assert.Equal(Audio, root["input"]![0]!["content"]![0]!["input_audio"]!["data"]!.GetValue<string>());
        Assert.True(root["stream"]!.GetValue<bool>());
        Assert.True(root["stream_options"]!["include_usage"]!.GetValue<bool>());
        Assert.Equal("Tina", root["audio"]!["voice"]!.GetValue<string>()); // resolved, as for any body
        Assert.Equal("Be brief.", root["instructions"]!.GetValue<string>());
    }

    [Fact]
    public async Task ABodyOfTheLargestSize_IsReadAlone_WithBothBudgetsAtTheLeastStartUpAccepts()
    {
        // Streamed, it keeps every buffer it outgrew (16, 32, 64, 128 and 256 KiB, then its own size + 1): budgets of its
        // size alone, which start-up used to accept, answered it 503 (or, on the share, 429) however idle the gateway was.
        var body = Request(""" "stream":true """);
        var limits = new OmniGateway.Tenants.GatewayOptions { MaxRequestBodyBytes = body.Length, StreamRequestBodiesFromBytes = StreamFrom };
        var least = OmniGateway.Validation.RequestBufferBudget.LargestBodyHolds(limits).ToString(System.Globalization.CultureInfo.InvariantCulture);
        await using var gateway = Gateway(StreamFrom, ("Gateway:MaxRequestBodyBytes", body.Length.ToString(System.Globalization.CultureInfo.InvariantCulture)),
            ("Gateway:MaxBufferedRequestBytes", least), ("Gateway:MaxBufferedRequestBytesPerTenant", least));
        using var client = Caller(gateway);

        using var response = await PostAsync(client, new ByteArrayContent(body) { Headers = { ContentType = new("application/json") } });

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Contains("event: response.completed", await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.Equal("chunked", Assert.Single(_upstream.Requests).Headers["Transfer-Encoding"]); // it was streamed
    }

    [Fact]
    public async Task StreamedBody_IsWhatTheSameBodyReadWholeWouldSend_OutputCapLoweredByTheBudgetIncluded()
    {
        (string, string) budget = ("Gateway:Tenants:0:Limits:DailyTokens", "400000");
        var body = Request(""" "stream":false,"stream_options":{"foo":"bar"},"max_output_tokens":100000,"metadata":{"team":"a"},"audio":{"voice":"Ethan","format":"wav"},"x_custom":[1,{"k":"\"v\""}] """);
        await using (var whole = Gateway(streamFrom: 0, budget))
        {
            using var client = Caller(whole);
            using var response = await PostAsync(client, new ByteArrayContent(body) { Headers = { ContentType = new("application/json") } });
            await response.Content.ReadAsByteArrayAsync();
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        }
        await using (var streamed = Gateway(StreamFrom, budget))
        {
            using var client = Caller(streamed);
            using var response = await PostAsync(client, new ByteArrayContent(body) { Headers = { ContentType = new("application/json") } });
            await response.Content.ReadAsByteArrayAsync();
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        }

        var sent = _upstream.Requests.ToArray();
        Assert.Equal(2, sent.Length);
        Assert.False(sent[0].Headers.ContainsKey("Transfer-Encoding")); // read whole: sent with its length
        Assert.Equal("chunked", sent[1].Headers["Transfer-Encoding"]);
        var (readWhole, streamedBody) = (JsonNode.Parse(sent[0].Body)!, JsonNode.Parse(sent[1].Body)!);
        Assert.True(readWhole["max_output_tokens"]!.GetValue<long>() < 100_000, "the budget lowered the output cap");
        Assert.True(JsonNode.DeepEquals(readWhole, streamedBody), $"streamed: {Encoding.UTF8.GetString(sent[1].Body)[^400..]}");
    }

    [Fact]
    public async Task RefusedByValidation_AfterTheUpstreamHadPartOfIt_Is400_AndTheUpstreamNeverGetsItsEnd()
    {
        await using var gateway = Gateway();
        var body = Request(""" "audio":{"voice":"Serenna"} """); // the refusal is in the body's last bytes
        await RefusedAfterTheUpstreamHadPartAsync(gateway, body, body.Length - 40, HttpStatusCode.BadRequest, "\"code\":\"unknown_voice\"");
    }

    [Fact]
    public async Task BadBase64NearItsEnd_IsRefused400_AsARequestReadWholeIs()
    {
        // The payload's base64 is checked as it arrives; a bad byte in its last group still gets the rules' refusal.
        await using var gateway = Gateway();
        var body = Request(""" "stream":true """, audio: Audio[..^6] + "*" + Audio[^5..]);
        await RefusedAfterTheUpstreamHadPartAsync(gateway, body, body.Length / 2, HttpStatusCode.BadRequest, "\"code\":\"invalid_base64\"");
    }

    [Fact]
    public async Task RefusedByTheTokenBudget_Is429_AndTheUpstreamNeverGetsItsEnd()
    {
        await using var gateway = Gateway(StreamFrom, ("Gateway:Tenants:0:Limits:DailyTokens", "10"));
        var body = Request("");
        await RefusedAfterTheUpstreamHadPartAsync(gateway, body, body.Length - 40, HttpStatusCode.TooManyRequests, "budget");
    }

    [Fact]
    public async Task ATenantWhoseBudgetIsSpent_Gets429BeforeItsLargeBodyIsRead_AndNoTryStarts()
    {
        // 2 000 tokens a day: a short first call fits (its estimate and a lowered cap), and the upstream bills it 2 768.
        await using var gateway = Gateway(StreamFrom, ("Gateway:Tenants:0:Limits:DailyTokens", "2000"));
        using var client = Caller(gateway);
        using (var first = await PostAsync(client, new StringContent(
            "{\"model\":\"qwen3.5-omni-plus-all\",\"input\":\"hi\",\"stream\":true}", Encoding.UTF8, "application/json")))
        {
            Assert.Equal(HttpStatusCode.OK, first.StatusCode);
            Assert.Contains("event: response.completed", await first.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        }
        var receivedBefore = _upstream.BodyBytesReceived;

        // The next claims a large body and sends only its first bytes: the refusal comes without the rest.
        await using var second = await Hardening.RawHttp.PostAsync(client.BaseAddress!, "/v1/responses", GatewayFactory.TenantKey, 300_000,
            "{\"model\":\"qwen3.5-omni-plus-all\",\"input\":[");
        var (status, head) = await second.ReadAnswerAsync(TimeSpan.FromSeconds(10));

        Assert.Equal(429, status);
        Assert.Contains("\"code\":\"token_budget_exceeded\"", head, StringComparison.Ordinal);
        Assert.Single(_upstream.Requests);
        Assert.Equal(receivedBefore, _upstream.BodyBytesReceived); // no try was started for it
    }

    /// <summary>
    /// The caller holds back all past <paramref name="firstPart"/> until the upstream has some of the body; the answer is
    /// the refusal, and the upstream's body is cut short with no request made of it.
    /// </summary>
    private async Task RefusedAfterTheUpstreamHadPartAsync(GatewayFactory gateway, byte[] body, int firstPart, HttpStatusCode status, string expected)
    {
        using var client = Caller(gateway);
        using var response = await PostAsync(client, new HeldBackContent(body, firstPart,
            () => Until(() => _upstream.BodyBytesReceived > 0, "the upstream received nothing while the caller was still sending")));

        Assert.Equal(status, response.StatusCode);
        Assert.Contains(expected, await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        await _upstream.BodyCutShort.Task.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Empty(_upstream.Requests);
    }

    [Fact]
    public async Task CallerGoneMidBody_CutsTheUpstreamBodyShort_AndNothingIsRecorded()
    {
        await using var gateway = Gateway();
        using var client = Caller(gateway);
        var body = Request("");
        using var request = new HttpRequestMessage(HttpMethod.Post, "/v1/responses")
        {
            Content = new HeldBackContent(body, body.Length / 2, async () =>
            {
                await Until(() => _upstream.BodyBytesReceived > 0, "the upstream received nothing while the caller was still sending");
                throw new IOException("the caller goes away mid-body");
            }),
        };
        request.Headers.Add("x-request-id", "gone-mid-body");

        await Assert.ThrowsAnyAsync<Exception>(() => client.SendAsync(request));

        await _upstream.BodyCutShort.Task.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Empty(_upstream.Requests);
        await Task.Delay(300); // a record, were one made, is written by now
        var records = await LedgerRecords.Of(gateway.Services).ReadRecordsAsync(null, CancellationToken.None);
        Assert.DoesNotContain(records, r => r.Record.RequestId == "gone-mid-body");
    }

    [Fact]
    public async Task FirstTryAnswered503_TheRetrySendsTheWholeStreamedBodyAgain()
    {
        await using var gateway = Gateway();
        using var client = Caller(gateway);
        var tries = 0;
        _upstream.Respond = c => Interlocked.Increment(ref tries) == 1
            ? FakeUpstream.ErrorAsync(c, 503, """{"error":{"message":"overloaded"}}""")
            : FakeUpstream.PlayAsync(c, Fixtures.Stream("text-only.sse"), TimeSpan.Zero);
        var body = Request(""" "stream":true """);
        using var request = new HttpRequestMessage(HttpMethod.Post, "/v1/responses") { Content = new ByteArrayContent(body) { Headers = { ContentType = new("application/json") } } };
        request.Headers.Add("x-request-id", "streamed-retry");

        using var response = await client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
        var answer = await response.Content.ReadAsStringAsync();

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.True(answer.Contains("event: response.completed", StringComparison.Ordinal), answer + string.Join("\n", gateway.Logs.GetSnapshot().Select(l => l.Message + l.Exception)));
        var sent = _upstream.Requests.ToArray();
        Assert.Equal(2, sent.Length);
        Assert.Equal(sent[0].Body, sent[1].Body); // the same body, the second time all at once
        Assert.Equal(Audio, JsonNode.Parse(sent[1].Body)!["input"]![0]!["content"]![0]!["input_audio"]!["data"]!.GetValue<string>());
        var records = await LedgerRecords.Of(gateway.Services).ReadRecordsAsync(null, CancellationToken.None);
        var record = Assert.Single(records, r => r.Record.RequestId == "streamed-retry").Record;
        Assert.Equal((UsageOutcome.Completed, 2), (record.Outcome, record.UpstreamAttempts));
    }

    /// <summary>~270 KB of inline WAV as base64: above <see cref="StreamFrom"/>.</summary>
    private static readonly string Audio = "data:audio/wav;base64," + Convert.ToBase64String(Wav.FromPcm16(Pcm(), sampleRate: 16_000, channels: 1));

    private static byte[] Pcm()
    {
        var pcm = new byte[200_000];
        new Random(5).NextBytes(pcm);
        return pcm;
    }

    /// <summary>A body with the audio first (so most of it can be sent before the members after it arrive), then <paramref name="more"/>.</summary>
    private static byte[] Request(string more, string? audio = null)
    {
        var rest = more.Trim().Length > 0 ? "," + more : "";
        return Encoding.UTF8.GetBytes(
            "{\"model\":\"qwen3.5-omni-plus-all\",\"input\":[{\"role\":\"user\",\"content\":[{\"type\":\"input_audio\",\"input_audio\":{\"data\":\"" + (audio ?? Audio)
            + "\",\"format\":\"wav\"}},{\"type\":\"input_text\",\"text\":\"What is said here? \\u00e9\\\"quoted\\\"\"}]}]" + rest + "}");
    }

    private static Task<HttpResponseMessage> PostAsync(HttpClient client, HttpContent content) =>
        client.SendAsync(new HttpRequestMessage(HttpMethod.Post, "/v1/responses") { Content = content }, HttpCompletionOption.ResponseHeadersRead);

    private static async Task Until(Func<bool> condition, string failure)
    {
        for (var i = 0; !condition(); i++)
        {
            if (i == 200) throw new TimeoutException(failure);
            await Task.Delay(50);
        }
    }

    /// <summary>A body with a <c>Content-Length</c> whose bytes past <paramref name="firstPart"/> wait for <paramref name="gate"/>.</summary>
    private sealed class HeldBackContent(byte[] body, int firstPart, Func<Task> gate) : HttpContent
    {
        protected override async Task SerializeToStreamAsync(Stream stream, TransportContext? context)
        {
            await stream.WriteAsync(body.AsMemory(0, firstPart));
            await stream.FlushAsync();
            await gate();
            await stream.WriteAsync(body.AsMemory(firstPart));
        }

        protected override bool TryComputeLength(out long length)
        {
            length = body.Length;
            return true;
        }
    }
}
