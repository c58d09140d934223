using System.Buffers;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using OmniGateway.Errors;
using OmniGateway.Upstream;

namespace OmniGateway.Proxy;

/// <summary>
/// Contract 3.7: <c>stream:false</c>, which the upstream refuses, served by streaming and aggregating
/// into one OpenAI-shaped Response object. Off the hot path, so plain <see cref="JsonNode"/> is fine here.
/// </summary>
public sealed class AggregatingTarget(HttpContext context, IReadOnlyList<string> serverKeys) : RelayTarget
{
    private readonly StringBuilder _text = new();
    private readonly List<JsonNode> _doneItems = [];
    private JsonObject? _response;
    private GatewayError? _failure;
    private bool _terminal;

    public override ValueTask StartAsync(string? upstreamContentType) => ValueTask.CompletedTask;

    public override void Write(in ReadOnlySequence<byte> bytes, SseEventKind kind)
    {
        if (kind is SseEventKind.CommentOnly or SseEventKind.Done) return;
        JsonNode? data;
        try { data = JsonNode.Parse(Encoding.UTF8.GetString(SseFraming.Data(bytes))); }
        catch (JsonException) { return; }
        if (data is not JsonObject evt) return;
        var type = evt["type"]?.GetValue<string>();
        switch (type)
        {
            case "response.created" or "response.in_progress":
                _response ??= evt["response"]?.DeepClone() as JsonObject;
                break;
            case "response.output_text.delta":
                _text.Append(evt["delta"]?.GetValue<string>());
                break;
            case "response.output_item.done" when evt["item"] is { } item:
                _doneItems.Add(item.DeepClone());
                break;
            case "response.completed" or "response.incomplete":
                _terminal = true;
                _response = evt["response"]?.DeepClone() as JsonObject ?? _response;
                break;
            case "response.failed" or "error":
                _terminal = true;
                var error = evt["response"]?["error"] ?? evt;
                var message = error["message"]?.GetValue<string>() ?? "the upstream reported a failure";
                _failure = GatewayErrors.UpstreamFailure("The upstream failed to generate the response: " + UpstreamErrorMapper.Scrub(message, serverKeys));
                break;
        }
    }

    public override ValueTask<bool> FlushAsync(CancellationToken cancellationToken) => ValueTask.FromResult(!context.RequestAborted.IsCancellationRequested);

    public override ValueTask EndWithErrorAsync(string message, CancellationToken cancellationToken, string code = StreamInterrupted)
    {
        _failure ??= code switch
        {
            StreamInterrupted => GatewayErrors.UpstreamFailure(message),
            ShuttingDown => GatewayErrors.GatewayShuttingDown(),
            _ => GatewayErrors.UsageNotRecorded(),
        };
        return ValueTask.CompletedTask;
    }

    public override Task FailAsync(GatewayError refusal)
    {
        _failure = refusal;
        return refusal.WriteAsync(context);
    }

    public async Task CompleteAsync(CancellationToken cancellationToken)
    {
        if (context.Response.HasStarted || context.RequestAborted.IsCancellationRequested) return;
        if (_failure is not null || !_terminal || _response is null)
        {
            await (_failure ?? GatewayErrors.UpstreamFailure("The upstream stream ended without a final response. Retry the request.")).WriteAsync(context);
            return;
        }
        var body = Encoding.UTF8.GetBytes(BuildResponse().ToJsonString());
        context.Response.StatusCode = StatusCodes.Status200OK;
        context.Response.ContentType = "application/json";
        context.Response.ContentLength = body.Length;
        await context.Response.Body.WriteAsync(body, cancellationToken);
    }

    /// <summary>The final response object, with the message's text and audio filled in from the stream where it lacks them.</summary>
    private JsonObject BuildResponse()
    {
        var response = _response!; // checked by the caller
        response["object"] = "response";
        if (response["output"] is not JsonArray output || output.Count == 0)
        {
            output = new JsonArray(_doneItems.Select(i => i.DeepClone()).ToArray());
            response["output"] = output;
        }
        var message = output.OfType<JsonObject>().FirstOrDefault(i => i["type"]?.GetValue<string>() == "message");
        if (message is null)
        {
            message = new JsonObject { ["type"] = "message", ["role"] = "assistant", ["status"] = "completed", ["content"] = new JsonArray() };
            output.Add(message);
        }
        if (message["content"] is not JsonArray content) message["content"] = content = new JsonArray();
        if (!content.OfType<JsonObject>().Any(p => p["type"]?.GetValue<string>() == "output_text") && _text.Length > 0)
            content.Insert(0, new JsonObject { ["type"] = "output_text", ["text"] = _text.ToString(), ["annotations"] = new JsonArray() });

        // The seed puts the audio in output_item.done only; response.completed may leave it out.
        if (!content.OfType<JsonObject>().Any(HasAudio))
        {
            var audioPart = _doneItems.OfType<JsonObject>()
                .SelectMany(i => i["content"] as JsonArray ?? [])
                .OfType<JsonObject>()
                .FirstOrDefault(HasAudio);
            if (audioPart is not null) content.Add(audioPart.DeepClone());
        }
        foreach (var part in content.OfType<JsonObject>().Where(HasAudio)) EnsureWav((JsonObject)part["audio"]!);
        return response;
    }

    private static bool HasAudio(JsonObject part) => part["audio"] is JsonObject audio && audio["data"] is JsonValue;

    /// <summary>Alibaba streams raw 24 kHz mono 16-bit PCM; callers of a JSON answer expect a playable WAV.</summary>
    private static void EnsureWav(JsonObject audio)
    {
        if (audio["data"]?.GetValue<string>() is not { Length: > 0 } data) return;
        byte[] bytes;
        try { bytes = Convert.FromBase64String(data); }
        catch (FormatException) { return; }
        if (bytes.Length >= 12 && bytes.AsSpan(0, 4).SequenceEqual("RIFF"u8) && bytes.AsSpan(8, 4).SequenceEqual("WAVE"u8)) return;
        audio["data"] = Convert.ToBase64String(Wav.FromPcm16(bytes, sampleRate: 24_000, channels: 1));
        audio["format"] = "wav";
    }
}
