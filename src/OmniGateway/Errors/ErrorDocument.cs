
namespace OmniGateway.Errors;

/// <summary>The error shape as OpenAPI shows it. The gateway writes it with <see cref="GatewayError"/>.</summary>
public sealed record ErrorDocument(ErrorBody Error);

public sealed record ErrorBody(
    string Message,
    string Type,
    string? Param,
    string Code);
