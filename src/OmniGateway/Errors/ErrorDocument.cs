using System.Text.Json.Serialization;

namespace OmniGateway.Errors;

/// <summary>The error shape as OpenAPI shows it. The gateway writes it with <see cref="GatewayError"/>.</summary>
public sealed record ErrorDocument([property: JsonPropertyName("error")] ErrorBody Error);

public sealed record ErrorBody(
    [property: JsonPropertyName("message")] string Message,
    [property: JsonPropertyName("type")] string Type,
    [property: JsonPropertyName("param")] string? Param,
    [property: JsonPropertyName("code")] string Code);
