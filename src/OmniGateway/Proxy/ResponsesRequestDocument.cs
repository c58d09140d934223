using System.ComponentModel;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;
using OmniGateway.Validation;

namespace OmniGateway.Proxy;

// Documentation only: the endpoint reads the raw JSON, because binding to these types would drop the
// fields the upstream knows and we do not. Where a field takes more than one JSON shape the type is
// JsonNode and OpenApi/OpenApiFilters.cs spells out the alternatives (oneOf); enums that
// depend on the catalogue (models, voices, audio formats) are filled in there at runtime too.

/// <summary>The <c>/v1/responses</c> body (contract 3): the upstream's Responses request. Unknown fields pass through.</summary>
public sealed record ResponsesRequestDocument(
    [property: JsonPropertyName("model"), Description("A served model id (GET /v1/models).")] string Model,
    [property: JsonPropertyName("input"), Description("One user text message as a string, or an array of messages.")] JsonNode Input,
    [property: JsonPropertyName("instructions"), Description("System instructions.")] string? Instructions = null,
    [property: JsonPropertyName("stream"), Description("true: the upstream's SSE stream, event by event. false or absent: one JSON Response object, aggregated by the gateway.")] bool? Stream = null,
    [property: JsonPropertyName("stream_options"), Description("The gateway always forwards include_usage: true, so usage can be accounted.")] StreamOptionsDocument? StreamOptions = null,
    [property: JsonPropertyName("modalities"), Description("[\"text\"] or [\"text\",\"audio\"]. Absent: the model's default.")] string[]? Modalities = null,
    [property: JsonPropertyName("audio"), Description("Spoken output. Checked only when modalities holds \"audio\"; otherwise dropped. Absent: the model's default voice and format.")] AudioOutputDocument? Audio = null,
    [property: JsonPropertyName("enable_thinking"), Description("Thinking mode, where the model has one. It answers in text only.")] bool? EnableThinking = null);

public sealed record AudioOutputDocument(
    [property: JsonPropertyName("voice"), Description("A voice of the chosen model (GET /v1/voices?model=…); case is ignored.")] string? Voice = null,
    [property: JsonPropertyName("format"), Description("An output audio format the model offers.")] string? Format = null);

public sealed record StreamOptionsDocument([property: JsonPropertyName("include_usage")] bool? IncludeUsage = null);

/// <summary>One message of <c>input</c>.</summary>
public sealed record InputMessageDocument(
    [property: JsonPropertyName("role")] string Role,
    [property: JsonPropertyName("content"), Description("A string, or an array of content parts. Assistant messages hold text only; a user message holds text plus at most one other modality.")] JsonNode Content)
{
    public static readonly string[] Roles = ContentVocabulary.Roles;
}

/// <summary>One part of a message's <c>content</c>; which payload field it needs depends on <c>type</c>.</summary>
public sealed record ContentPartDocument(
    [property: JsonPropertyName("type")] string Type,
    [property: JsonPropertyName("text"), Description("For text, input_text and output_text.")] string? Text = null,
    [property: JsonPropertyName("input_audio"), Description("For input_audio.")] InputAudioDocument? InputAudio = null,
    [property: JsonPropertyName("image_url"), Description("For image_url and input_image: an http(s) URL or data:<mime>;base64,… URI, bare or as {\"url\":…}.")] JsonNode? ImageUrl = null,
    [property: JsonPropertyName("video_url"), Description("For video_url: an http(s) URL or data:<mime>;base64,… URI, bare or as {\"url\":…}.")] JsonNode? VideoUrl = null)
{
    public static readonly string[] Types = ContentVocabulary.PartTypes;
}

public sealed record InputAudioDocument(
    [property: JsonPropertyName("data"), Description("An http(s) URL, or base64 audio (bare or data:<mime>;base64,…) under the model's inline limit.")] string Data,
    [property: JsonPropertyName("format"), Description("The audio's real format; inline bytes are checked against it.")] string Format);

/// <summary>A media reference in object form, as OpenAI SDKs send it.</summary>
public sealed record MediaUrlDocument([property: JsonPropertyName("url")] string Url);

/// <summary>The <c>stream:false</c> answer (contract 3.7), aggregated from the stream by the gateway.</summary>
public sealed record ResponseDocument(
    [property: JsonPropertyName("id")] string Id,
    [property: JsonPropertyName("object")] string ObjectType,
    [property: JsonPropertyName("status"), Description("completed or incomplete.")] string Status,
    [property: JsonPropertyName("model")] string Model,
    [property: JsonPropertyName("output"), Description("The assistant message item: its output_text part and, when audio was asked, an audio part whose data is a base64 WAV.")] JsonNode[] Output,
    [property: JsonPropertyName("usage")] UsageDocument? Usage);

public sealed record UsageDocument(
    [property: JsonPropertyName("input_tokens")] long InputTokens,
    [property: JsonPropertyName("output_tokens")] long OutputTokens,
    [property: JsonPropertyName("total_tokens")] long TotalTokens);
