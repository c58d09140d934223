using System.Net.ServerSentEvents;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging.Testing;

namespace OmniGateway.IntegrationTests.Proxy;

/// <summary>
/// The answer's audio is one event of megabytes (<c>response.output_item.done</c>). It reaches the client as it reaches
/// the gateway, not once all of it has; a client that leaves inside it is billed as one that saw it all; an upstream
/// that breaks inside it leaves the client a stream whose error event stands on its own.
/// </summary>
public sealed class FlowingEventTests : IAsyncLifetime
{
    private const int AudioPadding = 400_000;
    private const int HeadBytes = 100_000; // of the item's event, sent before the upstream pauses

    private static readonly ExpectedUsage TextAudio = Fixtures.Usage("text-audio.sse");

    private FakeUpstream _upstream = null!; // created in InitializeAsync
    private readonly TaskCompletionSource _sendTheRest = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public async Task InitializeAsync() => _upstream = await FakeUpstream.StartAsync();

    public async Task DisposeAsync()
    {
        _sendTheRest.TrySetResult();
        await _upstream.DisposeAsync();
    }

    /// <summary>The sample answer, its last output item carrying <see cref="AudioPadding"/> more bytes of audio; and where that event starts.</summary>
    private static (byte[] Stream, int ItemStart) AnswerWithLongAudio()
    {
        var text = Encoding.UTF8.GetString(Fixtures.Stream("text-audio.sse"));
        var itemStart = text.IndexOf("event: response.output_item.done", StringComparison.Ordinal);
        var audio = text.IndexOf("\"data\":\"", itemStart, StringComparison.Ordinal) + "\"data\":\"".Length;
        text = text.Insert(audio, new string('A', AudioPadding));
        return (Encoding.UTF8.GetBytes(text), Encoding.UTF8.GetByteCount(text[..itemStart]));
    }

    /// <summary>Sends the answer up to <see cref="HeadBytes"/> into the item's event, then waits for <paramref name="thenWhat"/>.</summary>
    private static Func<HttpContext, Task> HeadThen(byte[] stream, int itemStart, Func<HttpContext, Task> thenWhat) => async context =>
    {
        context.Response.ContentType = "text/event-stream";
        await context.Response.Body.WriteAsync(stream.AsMemory(0, itemStart + HeadBytes), context.RequestAborted);
        await context.Response.Body.FlushAsync(context.RequestAborted);
        await thenWhat(context);
    };

    /// <summary>A client that reads until it holds <paramref name="bytes"/> bytes or the stream ends.</summary>
    private static async Task<byte[]> ReadAtLeastAsync(Stream body, int bytes)
    {
        var received = new MemoryStream();
        var buffer = new byte[16 * 1024];
        while (received.Length < bytes)
        {
            var read = await body.ReadAsync(buffer).AsTask().WaitAsync(TimeSpan.FromSeconds(10));
            if (read == 0) break;
            received.Write(buffer, 0, read);
        }
        return received.ToArray();
    }

    [Fact]
    public async Task TheAnswersAudio_ReachesTheClient_WhileTheUpstreamIsStillSendingIt()
    {
        var (stream, itemStart) = AnswerWithLongAudio();
        _upstream.Respond = HeadThen(stream, itemStart, async context =>
        {
            await _sendTheRest.Task.WaitAsync(context.RequestAborted);
            await context.Response.Body.WriteAsync(stream.AsMemory(itemStart + HeadBytes), context.RequestAborted);
        });
        await using var gateway = new GatewayFactory(_upstream.BaseUrl);
        using var client = gateway.CreateTenantClient();

        using var response = await client.SendAsync(new HttpRequestMessage(HttpMethod.Post, "/v1/responses")
        {
            Content = new StringContent(Fixtures.Request("text-audio.json"), Encoding.UTF8, "application/json"),
        }, HttpCompletionOption.ResponseHeadersRead);
        var body = await response.Content.ReadAsStreamAsync();
        // Held whole, the item would not begin to arrive before the upstream sent its end.
        var head = await ReadAtLeastAsync(body, itemStart + HeadBytes / 2);
        Assert.False(_sendTheRest.Task.IsCompleted);
        Assert.True(head.Length >= itemStart + HeadBytes / 2, $"the client got {head.Length} bytes while the upstream held the rest of the item's event");

        _sendTheRest.SetResult();
        var rest = await ReadAtLeastAsync(body, int.MaxValue);
        Assert.Equal(stream, head.Concat(rest).ToArray());
        var record = await gateway.Logs.UsageRecordAsync();
        Assert.Equal(("completed", TextAudio.Total), (record.GetStructuredStateValue("Outcome"), record.GetStructuredStateValue("TotalTokens")));
    }

    [Fact]
    public async Task AClientLeavingInsideTheLastItem_IsBilledTheWholeAnswer()
    {
        var (stream, itemStart) = AnswerWithLongAudio();
        _upstream.Respond = HeadThen(stream, itemStart, async context =>
        {
            await Task.Delay(TimeSpan.FromSeconds(1), context.RequestAborted); // the client leaves meanwhile
            await context.Response.Body.WriteAsync(stream.AsMemory(itemStart + HeadBytes), context.RequestAborted);
        });
        await using var gateway = new GatewayFactory(_upstream.BaseUrl); // Usage:OnClientAbort Cancel, the default
        using var tenant = gateway.CreateTenantClient();
        using var client = new HttpClient(new SocketsHttpHandler { MaxResponseDrainSize = 0 }) { BaseAddress = tenant.BaseAddress };
        client.DefaultRequestHeaders.Authorization = tenant.DefaultRequestHeaders.Authorization;

        var response = await client.SendAsync(new HttpRequestMessage(HttpMethod.Post, "/v1/responses")
        {
            Content = new StringContent(Fixtures.Request("text-audio.json"), Encoding.UTF8, "application/json"),
        }, HttpCompletionOption.ResponseHeadersRead);
        var head = await ReadAtLeastAsync(await response.Content.ReadAsStreamAsync(), itemStart + HeadBytes / 2);
        Assert.True(head.Length > itemStart, "the client holds part of the last item");
        response.Dispose(); // and hangs up before the item's end

        var record = await gateway.Logs.UsageRecordAsync();
        Assert.Equal("client_aborted", record.GetStructuredStateValue("Outcome"));
        Assert.Equal((TextAudio.Input, TextAudio.Output, TextAudio.Total),
            (record.GetStructuredStateValue("InputTokens"), record.GetStructuredStateValue("OutputTokens"), record.GetStructuredStateValue("TotalTokens")));
        Assert.False(_upstream.RequestAborted.Task.IsCompleted, "the upstream was read to its usage, not cut off");
    }

    [Fact]
    public async Task AnUpstreamBreakingInsideTheItem_LeavesTheClientAnErrorEventOfItsOwn()
    {
        var (stream, itemStart) = AnswerWithLongAudio();
        _upstream.Respond = HeadThen(stream, itemStart, context =>
        {
            context.Abort();
            return Task.CompletedTask;
        });
        await using var gateway = new GatewayFactory(_upstream.BaseUrl);
        using var client = gateway.CreateTenantClient();

        using var response = await client.PostAsync("/v1/responses", new StringContent(Fixtures.Request("text-audio.json"), Encoding.UTF8, "application/json"));
        var received = await response.Content.ReadAsByteArrayAsync();

        // The item's head (cut off), a blank line ending it, then the error event: a client's SSE parser sees both apart.
        Assert.Equal(stream.AsSpan(0, itemStart).ToArray(), received[..itemStart]);
        var items = new List<SseItem<string>>();
        await foreach (var item in SseParser.Create(new MemoryStream(received[itemStart..])).EnumerateAsync()) items.Add(item);
        Assert.Equal(["response.output_item.done", "error"], items.Select(i => i.EventType));
        using var error = JsonDocument.Parse(items[1].Data);
        Assert.Equal("upstream_stream_interrupted", error.RootElement.GetProperty("code").GetString());
        Assert.Equal("interrupted", (await gateway.Logs.UsageRecordAsync()).GetStructuredStateValue("Outcome"));
    }
}
