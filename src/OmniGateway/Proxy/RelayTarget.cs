using System.Buffers;
using System.Text.Json;
using OmniGateway.Errors;

namespace OmniGateway.Proxy;

/// <summary>Where relayed events go: the client's SSE stream, or the <c>stream:false</c> aggregator.</summary>
public abstract class RelayTarget
{
    /// <summary>The upstream's first event has arrived: only now may a 200 be sent.</summary>
    public abstract ValueTask StartAsync(string? upstreamContentType);

    /// <summary>
    /// Hands over one event's bytes (with any comment lines held before it), unchanged; to a target that
    /// <see cref="TakesPartialEvents"/>, a large event may come in parts, as it arrives.
    /// </summary>
    public abstract void Write(in ReadOnlySequence<byte> bytes, SseEventKind kind);

    /// <summary>
    /// Whether a large event may be written before its end has arrived: never the kinds the relay parses (terminal,
    /// error, <c>response.created</c>), and only once its <c>event:</c> line has named it. A target that reads events
    /// (the aggregator) takes them whole.
    /// </summary>
    public virtual bool TakesPartialEvents => false;

    /// <summary>False when the client is gone.</summary>
    public abstract ValueTask<bool> FlushAsync(CancellationToken cancellationToken);

    /// <summary>The stream broke after the 200: say so in-band, the only way left.</summary>
    public abstract ValueTask EndWithErrorAsync(string message, CancellationToken cancellationToken, string code = StreamInterrupted);

    public const string StreamInterrupted = "upstream_stream_interrupted";
    public const string UsageNotRecorded = "usage_not_recorded";
    public const string ShuttingDown = "gateway_shutting_down";

    /// <summary>Nothing was sent yet and the call failed: an ordinary error response.</summary>
    public abstract Task FailAsync(GatewayError refusal);
}

/// <summary>Relays to the caller byte for byte (error events excepted, scrubbed), one flush per batch of events as they arrive.</summary>
public sealed class ClientStreamTarget(HttpContext context, IReadOnlyList<string> serverKeys) : RelayTarget
{
    private readonly HttpResponse _response = context.Response;

    // The client's SSE parser joins the parts: an answer's audio (one event, megabytes of base64) flows through as
    // it arrives instead of waiting here, whole, before its first byte goes on.
    public override bool TakesPartialEvents => true;

    public override ValueTask StartAsync(string? upstreamContentType)
    {
        _response.StatusCode = StatusCodes.Status200OK;
        _response.ContentType = upstreamContentType is not null && upstreamContentType.StartsWith("text/event-stream", StringComparison.OrdinalIgnoreCase)
            ? upstreamContentType
            : "text/event-stream";
        _response.Headers.CacheControl = "no-cache";
        // Tells nginx-style proxies in front of us not to buffer the stream either.
        _response.Headers["X-Accel-Buffering"] = "no";
        // Started before the first event is written, so the events go straight into the response's chunks: written
        // before the start, Kestrel kept them in memory of its own and copied them behind the headers at the first flush.
        // The headers go out with that flush either way; OnStarting's callbacks run now instead (they only set headers).
        return new ValueTask(_response.StartAsync());
    }

    public override void Write(in ReadOnlySequence<byte> bytes, SseEventKind kind)
    {
        var writer = _response.BodyWriter;
        if (kind is SseEventKind.Error or SseEventKind.Failed)
        {
            // The upstream's prose may echo its credentials: these events alone are parsed and rewritten.
            writer.Write(ErrorEventScrubber.Rewrite(bytes, kind, serverKeys));
            return;
        }
        foreach (var segment in bytes) writer.Write(segment.Span);
    }

    public override async ValueTask<bool> FlushAsync(CancellationToken cancellationToken)
    {
        try
        {
            var result = await _response.BodyWriter.FlushAsync(cancellationToken);
            return !result.IsCompleted && !result.IsCanceled && !context.RequestAborted.IsCancellationRequested;
        }
        catch (Exception exception) when (exception is IOException or OperationCanceledException)
        {
            return false;
        }
    }

    public override async ValueTask EndWithErrorAsync(string message, CancellationToken cancellationToken, string code = StreamInterrupted)
    {
        var buffer = new ArrayBufferWriter<byte>(256);
        buffer.Write("event: error\ndata: "u8);
        using (var json = new Utf8JsonWriter(buffer))
        {
            json.WriteStartObject();
            json.WriteString("type", "error");
            json.WriteString("code", code);
            json.WriteString("message", message);
            json.WriteEndObject();
        }
        buffer.Write("\n\n"u8);
        _response.BodyWriter.Write(buffer.WrittenSpan);
        await FlushAsync(cancellationToken);
    }

    public override Task FailAsync(GatewayError refusal) => refusal.WriteAsync(context);
}
