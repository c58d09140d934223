using System.Buffers;
using System.IO.Pipelines;
using System.Net;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.Options;
using OmniGateway.Catalog;

namespace OmniGateway.Simulator;

/// <summary>
/// <c>Upstream:Mode=Simulator</c>: an in-process stand-in for the upstream. It speaks the upstream's
/// exact event format (see shared/upstream/README.md) and fails the way it does — an unknown voice
/// gets an empty 200 — so the gateway's own protection is visible without a key.
/// </summary>
public sealed class SimulatorHandler(ModelCatalog catalog, IOptions<SimulatorOptions> options, TimeProvider time) : HttpMessageHandler
{
    protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        var body = request.Content is null ? [] : await request.Content.ReadAsByteArrayAsync(cancellationToken);
        SimulatedRequest parsed;
        try
        {
            parsed = SimulatedRequest.Parse(body);
        }
        catch (JsonException)
        {
            return Error(HttpStatusCode.BadRequest, "request body is not valid JSON");
        }
        if (!parsed.Stream) return Error(HttpStatusCode.BadRequest, "stream must be true for this model");
        if (catalog.Find(parsed.Model ?? "") is not { } model) return Error(HttpStatusCode.NotFound, "model not found");
        if (parsed.WantsAudio && (parsed.Voice is null || !model.VoiceNames.Contains(parsed.Voice, StringComparer.Ordinal)))
        {
            // The real upstream's behaviour for a voice it does not know: 200, and nothing.
            return new HttpResponseMessage(HttpStatusCode.OK) { Content = EventStreamContent(Stream.Null) };
        }

        var pipe = new Pipe();
        // Not tied to the request's token: the gateway may drain a departed client's answer, and when it
        // stops reading instead, the completed reader ends the writer at its next flush.
        _ = WriteEventsAsync(pipe.Writer, parsed, body.Length, CancellationToken.None);
        return new HttpResponseMessage(HttpStatusCode.OK) { Content = EventStreamContent(pipe.Reader.AsStream()) };
    }

    private async Task WriteEventsAsync(PipeWriter writer, SimulatedRequest request, int requestBytes, CancellationToken cancellationToken)
    {
        try
        {
            foreach (var sseEvent in SimulatedAnswer.Events(request, requestBytes))
            {
                writer.Write(sseEvent);
                var flush = await writer.FlushAsync(cancellationToken);
                if (flush.IsCompleted) return; // the gateway stopped reading: its client left
                await Task.Delay(options.Value.EventDelay, time, cancellationToken);
            }
            await writer.CompleteAsync();
        }
        catch (Exception exception)
        {
            await writer.CompleteAsync(exception);
        }
    }

    private static StreamContent EventStreamContent(Stream stream)
    {
        var content = new StreamContent(stream);
        content.Headers.ContentType = new System.Net.Http.Headers.MediaTypeHeaderValue("text/event-stream") { CharSet = "utf-8" };
        return content;
    }

    private static HttpResponseMessage Error(HttpStatusCode status, string message)
    {
        var json = JsonSerializer.SerializeToUtf8Bytes(new { error = new { message, type = "invalid_request_error" } });
        var content = new ByteArrayContent(json);
        content.Headers.ContentType = new System.Net.Http.Headers.MediaTypeHeaderValue("application/json");
        return new HttpResponseMessage(status) { Content = content };
    }
}

internal sealed record SimulatedRequest(string? Model, bool Stream, bool WantsAudio, string? Voice, string Question)
{
    public static SimulatedRequest Parse(byte[] body)
    {
        using var document = JsonDocument.Parse(body);
        var root = document.RootElement;
        string? Str(JsonElement e, string name) => e.ValueKind == JsonValueKind.Object && e.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString() : null;
        var wantsAudio = root.TryGetProperty("modalities", out var modalities) && modalities.ValueKind == JsonValueKind.Array
            && modalities.EnumerateArray().Any(m => m.ValueEquals("audio"));
        var audio = root.TryGetProperty("audio", out var a) ? a : default;
        var question = "";
        if (root.TryGetProperty("input", out var input) && input.ValueKind == JsonValueKind.Array)
        {
            foreach (var message in input.EnumerateArray())
            {
                if (Str(message, "role") != "user" || !message.TryGetProperty("content", out var content)) continue;
                if (content.ValueKind == JsonValueKind.String) question = content.GetString()!;
                else if (content.ValueKind == JsonValueKind.Array)
                    foreach (var part in content.EnumerateArray()) question = Str(part, "text") ?? question;
            }
        }
        return new SimulatedRequest(Str(root, "model"), root.TryGetProperty("stream", out var s) && s.ValueKind == JsonValueKind.True,
            wantsAudio, Str(audio, "voice"), question);
    }
}
