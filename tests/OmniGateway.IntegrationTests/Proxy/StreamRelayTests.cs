using System.Net;
using System.Net.ServerSentEvents;
using System.Text;
using System.Text.Json;

namespace OmniGateway.IntegrationTests.Proxy;

/// <summary>The SSE stream reaches the client as the upstream sent it: byte for byte, unbuffered, and cut cleanly when either side leaves.</summary>
public sealed class StreamRelayTests : GatewayTest
{
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
        await using var items = SseParser.Create(await response.Content.ReadAsStreamAsync()).EnumerateAsync().GetAsyncEnumerator();
        var readDelta = Task.Run(async () =>
        {
            while (await items.MoveNextAsync())
                if (items.Current.EventType == "response.output_text.delta") return true;
            return false;
        });

        Assert.Same(readDelta, await Task.WhenAny(readDelta, Task.Delay(TimeSpan.FromSeconds(5))));
        Assert.True(await readDelta);
        clientSawDelta.SetResult();
        while (await items.MoveNextAsync()) { }
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
    public async Task StreamEndingInABareErrorEvent_IsRecordedFailedWithTheCreatedResponseId()
    {
        Upstream.Respond = context => FakeUpstream.PlayAsync(context, Fixtures.Stream("error-event.sse"), TimeSpan.Zero);

        using var response = await PostAsync(Fixtures.Request("error-event.json"));
        await response.Content.ReadAsByteArrayAsync();

        var record = Assert.Single(Gateway.Logs.GetSnapshot(), e => e.Message.StartsWith("UsageRecorded", StringComparison.Ordinal));
        Assert.Equal("failed", record.GetStructuredStateValue("Outcome"));
        Assert.Equal(Fixtures.Expected("error-event.sse").GetProperty("responseId").GetString(), record.GetStructuredStateValue("UpstreamResponseId"));
    }
}
