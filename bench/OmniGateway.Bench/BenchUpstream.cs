using System.Text;
using System.Text.Json;

namespace OmniGateway.Bench;

/// <summary>What the fake upstream streams for every call until the driver says otherwise.</summary>
public sealed record StreamShape(int TextDeltas, int EventDelayMs, int AudioBytes, bool HoldUntilReleased)
{
    public static StreamShape Realistic => new(TextDeltas: 12, EventDelayMs: 10, AudioBytes: 0, HoldUntilReleased: false);
}

/// <summary>
/// The fake upstream, run as its own process (<c>OmniGateway.Bench upstream PORT</c>): a Kestrel app
/// on loopback that answers <c>POST /v1/responses</c> in the upstream's documented event format. Direct,
/// gateway and nginx runs all hit this one server, so what differs between them is only the hop.
/// <c>PUT /control/shape</c> sets the stream; <c>POST /control/release</c> ends held streams.
/// </summary>
public static class BenchUpstream
{
    public static async Task RunAsync(int port)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls($"http://127.0.0.1:{port}");
        builder.WebHost.ConfigureKestrel(k => k.Limits.MaxRequestBodySize = null);
        builder.Logging.ClearProviders();
        var app = builder.Build();
        var script = new StreamScript(StreamShape.Realistic);
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);

        app.MapPut("/control/shape", async (HttpContext context) =>
        {
            var shape = await JsonSerializer.DeserializeAsync<StreamShape>(context.Request.Body, JsonOptions);
            Volatile.Write(ref script, new StreamScript(shape!)); // a missing body is a driver bug: let it 500
            ReleaseHeld();
            return Results.NoContent();
        });
        app.MapPost("/control/release", () =>
        {
            ReleaseHeld();
            return Results.NoContent();
        });
        app.MapGet("/healthz", () => "ok");
        app.MapPost("/v1/responses", async context =>
        {
            // The upstream reads the whole request, as the real one must, whatever the hop in front.
            var drain = new byte[64 * 1024];
            while (await context.Request.Body.ReadAsync(drain, context.RequestAborted) > 0) { }
            var current = Volatile.Read(ref script);
            var held = Volatile.Read(ref release).Task;
            // Held streams come by the thousand (the scale scenario): their connections end with them, so the next
            // proxy's level does not find this process's descriptors still taken by the last one's idle pool.
            if (current.Shape.HoldUntilReleased) context.Response.Headers.Connection = "close";
            try
            {
                await current.PlayAsync(context.Response, held, context.RequestAborted);
            }
            catch (OperationCanceledException) { }
            catch (IOException) { }
        });
        await app.StartAsync();
        // Its logging is off, so it says where it listens itself (port 0 becomes a free port): the driver reads this line.
        foreach (var address in app.Urls) Console.WriteLine($"Now listening on: {address}");
        await app.WaitForShutdownAsync();

        // Ends the streams held so far; streams that start afterwards wait on a fresh latch.
        void ReleaseHeld() =>
            Interlocked.Exchange(ref release, new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)).TrySetResult();
    }

    public static readonly JsonSerializerOptions JsonOptions = new(JsonSerializerDefaults.Web);
}

/// <summary>The pre-encoded events of one <see cref="StreamShape"/>: the upstream spends no time building them per call.</summary>
internal sealed class StreamScript
{
    private readonly byte[][] _events;

    public StreamShape Shape { get; }

    public StreamScript(StreamShape shape)
    {
        Shape = shape;
        var events = new List<string>
        {
            Event("response.created", """{"type":"response.created","sequence_number":0,"response":{"id":"resp_bench","object":"response","status":"in_progress","model":"qwen3.5-omni-plus-all","output":[]}}"""),
            Event("response.in_progress", """{"type":"response.in_progress","sequence_number":1,"response":{"id":"resp_bench","object":"response","status":"in_progress"}}"""),
            Event("response.output_item.added", """{"type":"response.output_item.added","sequence_number":2,"output_index":0,"item":{"id":"msg_bench","type":"message","status":"in_progress","role":"assistant","content":[]}}"""),
        };
        for (var i = 0; i < shape.TextDeltas; i++)
            events.Add(Event("response.output_text.delta", $$"""{"type":"response.output_text.delta","sequence_number":{{3 + i}},"item_id":"msg_bench","output_index":0,"content_index":0,"delta":"周末安排 word {{i}} ","logprobs":[]}"""));
        if (shape.AudioBytes > 0)
        {
            var audio = Convert.ToBase64String(new byte[shape.AudioBytes * 3 / 4]);
            events.Add(Event("response.output_audio.delta", $$"""{"type":"response.output_audio.delta","sequence_number":{{3 + shape.TextDeltas}},"item_id":"msg_bench","output_index":0,"content_index":1,"delta":"{{audio}}"}"""));
        }
        events.Add(Event("response.completed", """{"type":"response.completed","sequence_number":99,"response":{"id":"resp_bench","object":"response","status":"completed","model":"qwen3.5-omni-plus-all","output":[],"usage":{"input_tokens":879,"input_tokens_details":{"cached_tokens":0},"output_tokens":1889,"output_tokens_details":{"reasoning_tokens":0},"total_tokens":2768}}}"""));
        events.Add("data: [DONE]\n\n");
        _events = events.Select(Encoding.UTF8.GetBytes).ToArray();
    }

    public async Task PlayAsync(HttpResponse response, Task released, CancellationToken cancellationToken)
    {
        response.ContentType = "text/event-stream";
        for (var i = 0; i < _events.Length; i++)
        {
            await response.Body.WriteAsync(_events[i], cancellationToken);
            await response.Body.FlushAsync(cancellationToken);
            // A held stream stays open after its first event: an idle-ish open stream for the scale scenario.
            if (i == 0 && Shape.HoldUntilReleased) await released.WaitAsync(cancellationToken);
            else if (Shape.EventDelayMs > 0 && i < _events.Length - 1) await Task.Delay(Shape.EventDelayMs, cancellationToken);
        }
    }

    private static string Event(string type, string json) => $"event: {type}\ndata: {json}\n\n";
}
