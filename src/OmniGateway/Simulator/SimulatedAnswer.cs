using System.Buffers;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using OmniGateway.Proxy;

namespace OmniGateway.Simulator;

/// <summary>The simulator's deterministic answer, as the upstream frames it: <c>event:</c> + one-line <c>data:</c> + blank line.</summary>
internal static class SimulatedAnswer
{
    private const string Model = "qwen3.5-omni-plus-all";
    private const long CreatedAt = 1776407820;

    /// <summary>0.3 s of a 440 Hz tone, 24 kHz mono 16-bit: the upstream's output audio format.</summary>
    public static readonly string ToneWavBase64 = Convert.ToBase64String(Tone());

    public static IEnumerable<byte[]> Events(SimulatedRequest request, int requestBytes)
    {
        var question = request.Question.Length > 80 ? request.Question[..80] + "…" : request.Question;
        var text = $"This is the OmniGateway simulator standing in for {Model}. You asked: \"{question}\". " +
                   "Set Upstream:ApiKey to reach the real model.";
        var hash = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(request.Question)))[..32];
        var responseId = "resp_" + hash;
        var itemId = "msg_" + hash;
        var deltas = text.Split(' ').Select((word, i) => i == 0 ? word : " " + word).ToArray();
        var sequence = 0;

        yield return Event("response.created", w => { w.WriteNumber("sequence_number", sequence++); WriteResponse(w, responseId, "in_progress", null, null); });
        yield return Event("response.in_progress", w => { w.WriteNumber("sequence_number", sequence++); WriteResponse(w, responseId, "in_progress", null, null); });
        yield return Event("response.output_item.added", w =>
        {
            w.WriteNumber("sequence_number", sequence++);
            w.WriteNumber("output_index", 0);
            w.WriteStartObject("item");
            w.WriteString("id", itemId); w.WriteString("type", "message"); w.WriteString("status", "in_progress"); w.WriteString("role", "assistant");
            w.WriteStartArray("content"); w.WriteEndArray();
            w.WriteEndObject();
        });
        yield return Event("response.content_part.added", w =>
        {
            w.WriteNumber("sequence_number", sequence++);
            WriteIds(w, itemId);
            w.WriteStartObject("part"); WriteTextPart(w, ""); w.WriteEndObject();
        });
        foreach (var delta in deltas)
        {
            yield return Event("response.output_text.delta", w =>
            {
                w.WriteNumber("sequence_number", sequence++);
                WriteIds(w, itemId);
                w.WriteString("delta", delta);
                w.WriteStartArray("logprobs"); w.WriteEndArray();
            });
        }
        yield return Event("response.output_text.done", w =>
        {
            w.WriteNumber("sequence_number", sequence++);
            WriteIds(w, itemId);
            w.WriteString("text", text);
            w.WriteStartArray("logprobs"); w.WriteEndArray();
        });
        yield return Event("response.content_part.done", w =>
        {
            w.WriteNumber("sequence_number", sequence++);
            WriteIds(w, itemId);
            w.WriteStartObject("part"); WriteTextPart(w, text); w.WriteEndObject();
        });
        yield return Event("response.output_item.done", w =>
        {
            w.WriteNumber("sequence_number", sequence++);
            w.WriteNumber("output_index", 0);
            WriteMessage(w, "item", itemId, text, request.WantsAudio);
        });

        var inputTokens = Math.Max(1, requestBytes / 4);
        var outputTokens = deltas.Length + (request.WantsAudio ? 13 : 0); // audio: 12.5 tokens/s, at least 1 s
        yield return Event("response.completed", w =>
        {
            w.WriteNumber("sequence_number", sequence++);
            WriteResponse(w, responseId, "completed", itemId, text, (inputTokens, outputTokens));
        });
        yield return "data: [DONE]\n\n"u8.ToArray();
    }

    private static void WriteResponse(Utf8JsonWriter w, string id, string status, string? itemId, string? text, (int Input, int Output)? usage = null)
    {
        w.WriteStartObject("response");
        w.WriteString("id", id); w.WriteString("object", "response"); w.WriteNumber("created_at", CreatedAt);
        w.WriteString("status", status); w.WriteNull("error"); w.WriteNull("incomplete_details"); w.WriteString("model", Model);
        w.WriteStartArray("output");
        if (itemId is not null)
        {
            w.WriteStartObject();
            WriteMessageBody(w, itemId, text!, audio: false);
            w.WriteEndObject();
        }
        w.WriteEndArray();
        if (usage is { } u)
        {
            w.WriteStartObject("usage");
            w.WriteNumber("input_tokens", u.Input);
            w.WriteStartObject("input_tokens_details"); w.WriteNumber("cached_tokens", 0); w.WriteEndObject();
            w.WriteNumber("output_tokens", u.Output);
            w.WriteStartObject("output_tokens_details"); w.WriteNumber("reasoning_tokens", 0); w.WriteEndObject();
            w.WriteNumber("total_tokens", u.Input + u.Output);
            w.WriteEndObject();
        }
        else
        {
            w.WriteNull("usage");
        }
        w.WriteEndObject();
    }

    private static void WriteMessage(Utf8JsonWriter w, string property, string itemId, string text, bool audio)
    {
        w.WriteStartObject(property);
        WriteMessageBody(w, itemId, text, audio);
        w.WriteEndObject();
    }

    private static void WriteMessageBody(Utf8JsonWriter w, string itemId, string text, bool audio)
    {
        w.WriteString("id", itemId); w.WriteString("type", "message"); w.WriteString("status", "completed"); w.WriteString("role", "assistant");
        w.WriteStartArray("content");
        w.WriteStartObject(); WriteTextPart(w, text); w.WriteEndObject();
        if (audio)
        {
            w.WriteStartObject();
            w.WriteString("type", "output_audio");
            w.WriteStartObject("audio");
            w.WriteString("data", ToneWavBase64); w.WriteString("format", "wav"); w.WriteString("transcript", text);
            w.WriteEndObject();
            w.WriteEndObject();
        }
        w.WriteEndArray();
    }

    private static void WriteTextPart(Utf8JsonWriter w, string text)
    {
        w.WriteString("type", "output_text"); w.WriteString("text", text);
        w.WriteStartArray("annotations"); w.WriteEndArray();
    }

    private static void WriteIds(Utf8JsonWriter w, string itemId)
    {
        w.WriteString("item_id", itemId); w.WriteNumber("output_index", 0); w.WriteNumber("content_index", 0);
    }

    private static byte[] Event(string type, Action<Utf8JsonWriter> fields)
    {
        var buffer = new ArrayBufferWriter<byte>(512);
        buffer.Write("event: "u8);
        buffer.Write(Encoding.UTF8.GetBytes(type));
        buffer.Write("\ndata: "u8);
        using (var w = new Utf8JsonWriter(buffer, new JsonWriterOptions { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
        {
            w.WriteStartObject();
            w.WriteString("type", type);
            fields(w);
            w.WriteEndObject();
        }
        buffer.Write("\n\n"u8);
        return buffer.WrittenSpan.ToArray();
    }

    private static byte[] Tone()
    {
        const int rate = 24_000;
        var samples = rate * 3 / 10;
        var pcm = new byte[samples * 2];
        for (var i = 0; i < samples; i++)
        {
            var value = (short)(Math.Sin(2 * Math.PI * 440 * i / rate) * 8000);
            System.Buffers.Binary.BinaryPrimitives.WriteInt16LittleEndian(pcm.AsSpan(i * 2), value);
        }
        return Wav.FromPcm16(pcm, rate, 1);
    }
}
