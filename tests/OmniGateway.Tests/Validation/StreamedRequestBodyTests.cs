using System.Buffers;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Options;
using OmniGateway.Tenants;
using OmniGateway.Validation;

namespace OmniGateway.Tests.Validation;

/// <summary>
/// What a streamed body's try writes: the forwardable members as they arrive, and the end only once the body is both
/// accepted and sent by the retry loop — never on a refusal, and never for a call accepted but not forwarded.
/// </summary>
public sealed class StreamedRequestBodyTests
{
    private const string Body = """{"model":"qwen3.5-omni-plus-all","input":[{"role":"user","content":[{"type":"input_text","text":"hi \"there\""}]}],"stream":false,"x":[1,{"y":null}]}""";

    [Fact]
    public async Task AcceptedAndSent_WritesTheForwardedMembersThenTheRest_AsOneObject()
    {
        var (streamed, budget, sink, write) = ArrivedWhileSending(chunk: 7);
        Assert.True(budget.Buffered >= Body.Length); // the reader's array counts until the call lets go

        using var rest = Rest("""{"stream":true,"stream_options":{"include_usage":true}}""");
        streamed.Accept(rest);
        Assert.False(write.IsCompleted); // accepted, but no try waits for the answer yet
        streamed.Send();
        await write.WaitAsync(TimeSpan.FromSeconds(5));

        using var sent = JsonDocument.Parse(sink.ToArray());
        Assert.Equal(["model", "input", "x", "stream", "stream_options"], sent.RootElement.EnumerateObject().Select(p => p.Name));
        Assert.True(sent.RootElement.GetProperty("stream").GetBoolean());
        Assert.Equal("hi \"there\"", sent.RootElement.GetProperty("input")[0].GetProperty("content")[0].GetProperty("text").GetString());

        streamed.Dispose();
        Assert.Equal(0, budget.Buffered); // the arrays' share of the budget is back once the call let go
    }

    [Fact]
    public async Task Refused_TheWriteFails_AndWhatWasSentNeverClosesTheObject()
    {
        var (streamed, _, sink, write) = ArrivedWhileSending(chunk: 16);

        streamed.Refuse();

        await Assert.ThrowsAsync<StreamedRequestBody.BodyRefusedException>(() => write.WaitAsync(TimeSpan.FromSeconds(5)));
        Assert.True(sink.Length > 0, "the forwardable members went out as they arrived");
        Assert.ThrowsAny<JsonException>(() => JsonDocument.Parse(sink.ToArray()));
        streamed.Dispose();
    }

    [Fact]
    public async Task AcceptedButNeverSent_TheCallsEndFailsTheWrite()
    {
        // A call that fails between admission and its forwarding must not leave the upstream a complete body.
        var (streamed, _, sink, write) = ArrivedWhileSending(chunk: 64);
        var rest = Rest("""{"stream":true}""");
        streamed.Accept(rest);

        streamed.Dispose();
        rest.Dispose();

        await Assert.ThrowsAsync<StreamedRequestBody.BodyRefusedException>(() => write.WaitAsync(TimeSpan.FromSeconds(5)));
        Assert.ThrowsAny<JsonException>(() => JsonDocument.Parse(sink.ToArray()));
    }

    [Fact]
    public async Task ARetry_WritesTheWholeBodyAtOnce_WhileTheCallHoldsIt()
    {
        var (streamed, budget, first, write) = ArrivedWhileSending(chunk: 5);
        using var rest = Rest("""{"stream":true}""");
        streamed.Accept(rest);
        streamed.Send();
        await write.WaitAsync(TimeSpan.FromSeconds(5));

        Assert.True(streamed.TryHold());
        var again = new MemoryStream();
        await streamed.WriteToAsync(again, CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(5));
        streamed.LetGo();

        Assert.Equal(first.ToArray(), again.ToArray());
        streamed.Dispose();
        Assert.False(streamed.TryHold()); // everyone let go: the arrays are back in the pool
        Assert.Equal(0, budget.Buffered);
    }

    /// <summary>A try already writing while <see cref="Body"/> arrives, <paramref name="chunk"/> bytes per read.</summary>
    private static (StreamedRequestBody Streamed, RequestBufferBudget Budget, MemoryStream Sent, Task Write) ArrivedWhileSending(int chunk)
    {
        var budget = Budget();
        var streamed = Streamed(budget);
        var sent = new MemoryStream();
        var write = streamed.WriteToAsync(sent, CancellationToken.None);
        Arrive(streamed, budget, Encoding.UTF8.GetBytes(Body), chunk);
        return (streamed, budget, sent, write);
    }

    private static RequestBufferBudget Budget() => new(Options.Create(new GatewayOptions()));

    private static StreamedRequestBody Streamed(RequestBufferBudget budget)
    {
        var context = new DefaultHttpContext();
        context.Request.ContentLength = 1024 * 1024;
        return StreamedRequestBody.For(context.Request, streamFromBytes: 1024, maxBytes: 16 * 1024 * 1024, budget)
            ?? throw new InvalidOperationException("a 1 MiB body is streamed from 1 KiB");
    }

    /// <summary>The body as the reader hands it over: into a pooled array the streamed body owns, <paramref name="chunk"/> bytes per read.</summary>
    private static void Arrive(StreamedRequestBody streamed, RequestBufferBudget budget, byte[] body, int chunk)
    {
        var array = ArrayPool<byte>.Shared.Rent(body.Length);
        Assert.True(budget.TryTake(array.Length));
        streamed.Own(array, array.Length);
        for (var length = 0; length < body.Length;)
        {
            var take = Math.Min(chunk, body.Length - length);
            body.AsSpan(length, take).CopyTo(array.AsSpan(length));
            length += take;
            streamed.Arrived(length);
        }
        streamed.Complete();
    }

    private static UpstreamBodyBuffer Rest(string json)
    {
        var writer = new UpstreamBodyWriter(json.Length);
        var bytes = Encoding.UTF8.GetBytes(json);
        bytes.CopyTo(writer.GetSpan(bytes.Length));
        writer.Advance(bytes.Length);
        return writer.Detach();
    }
}
