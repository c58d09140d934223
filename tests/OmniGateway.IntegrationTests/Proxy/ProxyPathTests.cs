using System.Net;
using System.Text;
using System.Text.Json;

namespace OmniGateway.IntegrationTests.Proxy;

public sealed class ProxyPathTests : GatewayTest
{
    private static StringContent Json(string body) => new(body, Encoding.UTF8, "application/json");

    private Task<HttpResponseMessage> PostAsync(string body) =>
        Client.SendAsync(new HttpRequestMessage(HttpMethod.Post, "/v1/responses") { Content = Json(body) }, HttpCompletionOption.ResponseHeadersRead);

    [Fact]
    public async Task TextAudioStream_ReachesClientByteForByte()
    {
        var upstreamBytes = Fixtures.Stream("text-audio.sse");

        using var response = await PostAsync(Fixtures.Request("text-audio.json"));
        var clientBytes = await response.Content.ReadAsByteArrayAsync();

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("text/event-stream", response.Content.Headers.ContentType?.MediaType);
        Assert.True(response.Headers.Contains("x-request-id"));
        Assert.Equal(upstreamBytes, clientBytes);
    }

    [Theory]
    [InlineData("multibyte-split.sse", "multibyte-split.json")]
    [InlineData("incomplete.sse", "incomplete.json")]
    [InlineData("failed.sse", "failed.json")]
    [InlineData("error-event.sse", "error-event.json")]
    [InlineData("text-only.sse", "text-only.json")]
    public async Task EverySampleStream_IsRelayedUnchanged(string stream, string request)
    {
        var upstreamBytes = Fixtures.Stream(stream);
        Upstream.Respond = context => FakeUpstream.PlayAsync(context, upstreamBytes, TimeSpan.Zero);

        using var response = await PostAsync(Fixtures.Request(request));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(upstreamBytes, await response.Content.ReadAsByteArrayAsync());
    }

    [Fact]
    public async Task FiveMegabyteAudioEvent_ArrivesWholeAndUnchanged()
    {
        // One event far larger than any read buffer, written by the upstream in pieces: the relay must
        // reassemble it across reads and hand the client exactly the upstream's bytes.
        var sample = Fixtures.Stream("text-audio.sse");
        var audio = Convert.ToBase64String(Enumerable.Range(0, 5 * 1024 * 1024 / 4 * 3).Select(i => (byte)(i * 31)).ToArray());
        var bigEvent = Encoding.UTF8.GetBytes(
            $"event: response.output_audio.delta\ndata: {{\"type\":\"response.output_audio.delta\",\"sequence_number\":3,\"delta\":\"{audio}\"}}\n\n");
        var upstreamBytes = bigEvent.Concat(sample).ToArray();
        Upstream.Respond = async context =>
        {
            context.Response.ContentType = "text/event-stream";
            for (var offset = 0; offset < upstreamBytes.Length; offset += 100_000)
            {
                await context.Response.Body.WriteAsync(upstreamBytes.AsMemory(offset, Math.Min(100_000, upstreamBytes.Length - offset)), context.RequestAborted);
                await context.Response.Body.FlushAsync(context.RequestAborted);
            }
        };

        using var response = await PostAsync(Fixtures.Request("text-audio.json"));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(upstreamBytes, await response.Content.ReadAsByteArrayAsync());
    }

    [Fact]
    public async Task StreamEndingInABareErrorEvent_IsRecordedFailedWithTheCreatedResponseId()
    {
        Upstream.Respond = context => FakeUpstream.PlayAsync(context, Fixtures.Stream("error-event.sse"), TimeSpan.Zero);

        using var response = await PostAsync(Fixtures.Request("error-event.json"));
        await response.Content.ReadAsByteArrayAsync();

        var record = Assert.Single(Gateway.Logs.Entries, e => e.Message.StartsWith("UsageRecorded", StringComparison.Ordinal));
        Assert.Equal("failed", record.Properties["Outcome"]);
        Assert.Equal(Fixtures.Expected("error-event.sse").GetProperty("responseId").GetString(), record.Properties["UpstreamResponseId"]);
    }

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

    [Fact]
    public async Task UpstreamDropsMidStream_ClientGetsSseErrorEvent()
    {
        Upstream.Respond = context => FakeUpstream.PlayAsync(context, Fixtures.Stream("text-audio.sse"), TimeSpan.FromMilliseconds(5), abortAfterEvents: 6);

        using var response = await PostAsync(Fixtures.Request("text-audio.json"));
        var text = await response.Content.ReadAsStringAsync();

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var sixEvents = string.Concat(Fixtures.SplitEvents(Fixtures.Stream("text-audio.sse")).Take(6).Select(Fixtures.Utf8));
        Assert.StartsWith(sixEvents, text);
        var tail = text[sixEvents.Length..];
        Assert.StartsWith("event: error\ndata: ", tail);
        using var error = JsonDocument.Parse(tail["event: error\ndata: ".Length..].Trim());
        Assert.Equal("error", error.RootElement.GetProperty("type").GetString());
        Assert.Equal("upstream_stream_interrupted", error.RootElement.GetProperty("code").GetString());
        Assert.False(string.IsNullOrEmpty(error.RootElement.GetProperty("message").GetString()));
    }

    [Fact]
    public async Task ClientAbort_ClosesTheUpstreamConnection()
    {
        Upstream.Respond = context => FakeUpstream.PlayAsync(context, Fixtures.Stream("text-audio.sse"), TimeSpan.FromMilliseconds(500));

        var response = await PostAsync(Fixtures.Request("text-audio.json"));
        var stream = await response.Content.ReadAsStreamAsync();
        var buffer = new byte[64];
        Assert.True(await stream.ReadAsync(buffer) > 0);
        response.Dispose(); // the client leaves mid-stream

        var closed = await Task.WhenAny(Upstream.RequestAborted.Task, Task.Delay(TimeSpan.FromSeconds(5)));
        Assert.Same(Upstream.RequestAborted.Task, closed);
    }

    [Fact]
    public async Task FirstDelta_ReachesClientBeforeUpstreamSendsTheNextEvent()
    {
        var events = Fixtures.SplitEvents(Fixtures.Stream("text-audio.sse"));
        var firstDeltaIndex = events.FindIndex(e => Fixtures.Utf8(e).StartsWith("event: response.output_text.delta", StringComparison.Ordinal));
        var clientSawDelta = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        Upstream.Respond = async context =>
        {
            context.Response.ContentType = "text/event-stream";
            for (var i = 0; i < events.Count; i++)
            {
                await context.Response.Body.WriteAsync(events[i], context.RequestAborted);
                await context.Response.Body.FlushAsync(context.RequestAborted);
                // Only a gateway that relays without buffering lets the test see the delta while we wait here.
                if (i == firstDeltaIndex) await clientSawDelta.Task.WaitAsync(TimeSpan.FromSeconds(10), context.RequestAborted);
            }
        };

        using var response = await PostAsync(Fixtures.Request("text-audio.json"));
        using var reader = new StreamReader(await response.Content.ReadAsStreamAsync());
        var seen = new StringBuilder();
        var readDelta = Task.Run(async () =>
        {
            while (await reader.ReadLineAsync() is { } line)
            {
                seen.AppendLine(line);
                if (line.StartsWith("event: response.output_text.delta", StringComparison.Ordinal)) return true;
            }
            return false;
        });

        Assert.Same(readDelta, await Task.WhenAny(readDelta, Task.Delay(TimeSpan.FromSeconds(5))));
        Assert.True(await readDelta);
        clientSawDelta.SetResult();
        await reader.ReadToEndAsync();
    }

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
        Assert.Equal(2768, root.GetProperty("usage").GetProperty("total_tokens").GetInt32());
        Assert.True(Upstream.Requests.Single().Json().RootElement.GetProperty("stream").GetBoolean());
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
