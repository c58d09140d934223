using System.Collections.Concurrent;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace OmniGateway.IntegrationTests;

/// <summary>
/// A real Kestrel server on 127.0.0.1:0 standing in for the upstream. It records every request and
/// answers with whatever the test scripts in <see cref="Respond"/> (by default: play text-audio.sse).
/// </summary>
public sealed class FakeUpstream : IAsyncDisposable
{
    private readonly WebApplication _app;

    private FakeUpstream(WebApplication app) => _app = app;

    public Uri BaseUrl { get; private set; } = null!; // set in StartAsync before anyone can read it

    public ConcurrentQueue<RecordedRequest> Requests { get; } = new();

    /// <summary>Fires when a request's connection goes away before the handler finished.</summary>
    public TaskCompletionSource RequestAborted { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    private long _bodyBytesReceived;
    private int _bodiesCutShort;

    /// <summary>Request body bytes read so far, over all requests, as they arrive (a body still arriving counts).</summary>
    public long BodyBytesReceived => Interlocked.Read(ref _bodyBytesReceived);

    /// <summary>Requests whose body ended before its end (the connection or stream was reset): never recorded in <see cref="Requests"/>.</summary>
    public int BodiesCutShort => Volatile.Read(ref _bodiesCutShort);

    /// <summary>Fires when the first body is cut short.</summary>
    public TaskCompletionSource BodyCutShort { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public Func<HttpContext, Task> Respond { get; set; } = context => PlayAsync(context, Fixtures.Stream("text-audio.sse"), TimeSpan.FromMilliseconds(2));

    public static async Task<FakeUpstream> StartAsync()
    {
        var app = LoopbackApp.Create();
        var upstream = new FakeUpstream(app);
        app.MapPost("/v1/responses", async context =>
        {
            using var body = new MemoryStream();
            var buffer = new byte[64 * 1024];
            try
            {
                int read;
                while ((read = await context.Request.Body.ReadAsync(buffer)) > 0)
                {
                    body.Write(buffer, 0, read);
                    Interlocked.Add(ref upstream._bodyBytesReceived, read);
                }
            }
            catch (Exception exception) when (exception is IOException or BadHttpRequestException or OperationCanceledException)
            {
                // The sender went away before the body's end: a request the upstream cannot answer (or bill).
                Interlocked.Increment(ref upstream._bodiesCutShort);
                upstream.BodyCutShort.TrySetResult();
                return;
            }
            upstream.Requests.Enqueue(new RecordedRequest(
                context.Request.Headers.ToDictionary(h => h.Key, h => h.Value.ToString(), StringComparer.OrdinalIgnoreCase),
                body.ToArray()));
            context.Items[MaxOutputTokensItem] = MaxOutputTokens(body.ToArray());
            context.Items[RequestBodyKey] = body.ToArray();
            context.RequestAborted.Register(() => upstream.RequestAborted.TrySetResult());
            try
            {
                await upstream.Respond(context);
            }
            catch (OperationCanceledException)
            {
            }
            catch (IOException)
            {
            }
        });
        upstream.BaseUrl = await LoopbackApp.StartAsync(app);
        return upstream;
    }

    private const string MaxOutputTokensItem = "max_output_tokens";

    /// <summary>
    /// Replays a recorded stream event by event, flushing each and pausing between them. A request's
    /// <c>max_output_tokens</c> is honoured as a real model does (see <see cref="CapOutput"/>).
    /// </summary>
    public static async Task PlayAsync(HttpContext context, byte[] stream, TimeSpan delay, int? abortAfterEvents = null)
    {
        context.Response.ContentType = "text/event-stream";
        var events = Fixtures.SplitEvents(stream);
        if (context.Items[MaxOutputTokensItem] is long cap) events = CapOutput(events, cap);
        for (var i = 0; i < events.Count; i++)
        {
            if (abortAfterEvents == i)
            {
                context.Abort();
                return;
            }
            await context.Response.Body.WriteAsync(events[i], context.RequestAborted);
            await context.Response.Body.FlushAsync(context.RequestAborted);
            if (delay > TimeSpan.Zero) await Task.Delay(delay, context.RequestAborted);
        }
    }

    /// <summary>
    /// What a model told <c>max_output_tokens: cap</c> sends when the recorded answer is longer: the
    /// recording's output tokens spread evenly over its delta events, as many deltas as fit the cap,
    /// the message item done with status <c>incomplete</c>, then <c>response.incomplete</c>
    /// (<c>incomplete_details.reason: max_output_tokens</c>) whose usage bills exactly the cap, and <c>[DONE]</c>.
    /// </summary>
    public static List<byte[]> CapOutput(List<byte[]> events, long cap)
    {
        var parsed = events.Select(Data).ToList();
        var completedAt = parsed.FindIndex(e => Type(e) == "response.completed");
        if (completedAt < 0) return events;
        var completed = parsed[completedAt]!;
        var usage = completed["response"]!["usage"]!.AsObject();
        var output = usage["output_tokens"]!.GetValue<long>();
        if (output <= cap) return events;

        var deltas = parsed.Count(e => Type(e) is { } t && t.EndsWith(".delta", StringComparison.Ordinal));
        var allowed = deltas == 0 ? 0 : (int)(deltas * cap / output);
        var capped = new List<byte[]>();
        JsonNode? item = null;
        for (var i = 0; i < completedAt; i++)
        {
            var type = Type(parsed[i]);
            if (type is null || type.EndsWith(".done", StringComparison.Ordinal)) continue; // the answer stops before its done events
            if (type == "response.output_item.added") item ??= parsed[i]!["item"]?.DeepClone();
            if (type.EndsWith(".delta", StringComparison.Ordinal) && allowed-- <= 0) break;
            capped.Add(events[i]);
        }
        if (item is JsonObject message)
        {
            message["status"] = "incomplete";
            capped.Add(Event("response.output_item.done", new JsonObject { ["type"] = "response.output_item.done", ["output_index"] = 0, ["item"] = message }));
        }
        var response = completed["response"]!.AsObject();
        response["status"] = "incomplete";
        response["incomplete_details"] = new JsonObject { ["reason"] = "max_output_tokens" };
        response["max_output_tokens"] = cap;
        usage["output_tokens"] = cap;
        usage["total_tokens"] = usage["input_tokens"]!.GetValue<long>() + cap;
        if (usage["output_tokens_details"] is JsonObject details && details["reasoning_tokens"]?.GetValue<long>() > cap) details["reasoning_tokens"] = cap;
        completed["type"] = "response.incomplete";
        capped.Add(Event("response.incomplete", completed));
        capped.Add("data: [DONE]\n\n"u8.ToArray());
        return capped;

        static JsonNode? Data(byte[] sseEvent)
        {
            var line = Encoding.UTF8.GetString(sseEvent).Split('\n').FirstOrDefault(l => l.StartsWith("data: {", StringComparison.Ordinal));
            return line is null ? null : JsonNode.Parse(line["data: ".Length..]);
        }

        static string? Type(JsonNode? data) => data?["type"]?.GetValue<string>();

        static byte[] Event(string type, JsonNode data) => Encoding.UTF8.GetBytes($"event: {type}\ndata: {data.ToJsonString()}\n\n");
    }

    private static long? MaxOutputTokens(byte[] body)
    {
        try
        {
            using var json = JsonDocument.Parse(body);
            return json.RootElement.ValueKind == JsonValueKind.Object && json.RootElement.TryGetProperty("max_output_tokens", out var cap)
                && cap.ValueKind == JsonValueKind.Number && cap.TryGetInt64(out var value) ? value : null;
        }
        catch (JsonException)
        {
            return null;
        }
    }

    private const string RequestBodyKey = "fake-upstream-request-body";

    /// <summary>The body of the request being answered (inside <see cref="Respond"/>).</summary>
    public static byte[] RequestBody(HttpContext context) => (byte[])context.Items[RequestBodyKey]!; // set before Respond is called

    /// <summary>
    /// Answers as a real model would: input tokens from the size of the request's <c>input</c> (10 for the
    /// chat template, then one per 4 bytes: below the gateway's estimate, as a real tokenizer is), then <paramref name="wantedOutputTokens"/> output tokens,
    /// 10 a delta, stopped at the request's <c>max_output_tokens</c> with <c>response.incomplete</c>.
    /// </summary>
    public static async Task ModelAsync(HttpContext context, long wantedOutputTokens, TimeSpan delayPerDelta)
    {
        var request = RequestBody(context);
        using var json = System.Text.Json.JsonDocument.Parse(request);
        var max = json.RootElement.TryGetProperty("max_output_tokens", out var m) && m.ValueKind == System.Text.Json.JsonValueKind.Number
            ? m.GetInt64() : long.MaxValue;
        var input = 10 + (json.RootElement.GetProperty("input").GetRawText().Length + 3) / 4;
        var output = Math.Min(wantedOutputTokens, max);
        var id = "resp_" + Guid.NewGuid().ToString("N");
        context.Response.ContentType = "text/event-stream";
        async Task Send(string type, string data)
        {
            await context.Response.WriteAsync($"event: {type}\ndata: {{\"type\":\"{type}\",{data}}}\n\n", context.RequestAborted);
            await context.Response.Body.FlushAsync(context.RequestAborted);
        }
        await Send("response.created", $"\"response\":{{\"id\":\"{id}\",\"status\":\"in_progress\",\"usage\":null}}");
        for (long sent = 0; sent < output; sent += 10)
        {
            await Send("response.output_text.delta", "\"item_id\":\"msg_1\",\"output_index\":0,\"content_index\":0,\"delta\":\" token\"");
            if (delayPerDelta > TimeSpan.Zero) await Task.Delay(delayPerDelta, context.RequestAborted);
        }
        var (type, status, details) = output < wantedOutputTokens
            ? ("response.incomplete", "incomplete", "{\"reason\":\"max_output_tokens\"}")
            : ("response.completed", "completed", "null");
        await Send(type, $"\"response\":{{\"id\":\"{id}\",\"status\":\"{status}\",\"incomplete_details\":{details},\"max_output_tokens\":{(max == long.MaxValue ? "null" : max)}," +
            $"\"usage\":{{\"input_tokens\":{input},\"input_tokens_details\":{{\"cached_tokens\":0}},\"output_tokens\":{output},\"output_tokens_details\":{{\"reasoning_tokens\":0}},\"total_tokens\":{input + output}}}}}");
        await context.Response.WriteAsync("data: [DONE]\n\n", context.RequestAborted);
    }

    public static Task ErrorAsync(HttpContext context, int status, string body, string contentType = "application/json")
    {
        context.Response.StatusCode = status;
        context.Response.ContentType = contentType;
        return context.Response.WriteAsync(body, Encoding.UTF8);
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}

public sealed record RecordedRequest(IReadOnlyDictionary<string, string> Headers, byte[] Body)
{
    public System.Text.Json.JsonDocument Json() => System.Text.Json.JsonDocument.Parse(Body);
}
