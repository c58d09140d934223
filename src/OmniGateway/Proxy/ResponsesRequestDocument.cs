using System.Text.Json.Nodes;
using System.Text.Json.Serialization;

namespace OmniGateway.Proxy;

/// <summary>
/// The <c>/v1/responses</c> body as OpenAPI describes it. Documentation only: the endpoint reads the
/// raw JSON, because binding to a type would drop the fields the upstream knows and we do not.
/// </summary>
public sealed record ResponsesRequestDocument(
    [property: JsonPropertyName("model")] string Model,
    [property: JsonPropertyName("input")] JsonNode Input,
    [property: JsonPropertyName("instructions")] string? Instructions,
    [property: JsonPropertyName("stream")] bool? Stream,
    [property: JsonPropertyName("modalities")] string[]? Modalities,
    [property: JsonPropertyName("audio")] AudioOutputDocument? Audio,
    [property: JsonPropertyName("stream_options")] StreamOptionsDocument? StreamOptions);

public sealed record AudioOutputDocument(
    [property: JsonPropertyName("voice")] string Voice,
    [property: JsonPropertyName("format")] string? Format);

public sealed record StreamOptionsDocument([property: JsonPropertyName("include_usage")] bool IncludeUsage);
