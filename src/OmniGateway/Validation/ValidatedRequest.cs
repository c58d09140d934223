using OmniGateway.Catalog;
using OmniGateway.Errors;

namespace OmniGateway.Validation;

/// <summary>What validation hands to the proxy: the decisions, and the enriched body to forward.</summary>
public sealed record ValidatedRequest(
    ServedModel Model,
    bool ClientWantsStream,
    bool WantsAudio,
    string? Voice,
    string Modalities,
    ReadOnlyMemory<byte> UpstreamBody)
{
    /// <summary>Attribution tags for the usage record (metadata and <c>x-omnigateway-tags</c>).</summary>
    public IReadOnlyDictionary<string, string> Tags { get; init; } = Usage.UsageRecord.EmptyTags;
}

public readonly record struct ValidationOutcome(ValidatedRequest? Request, GatewayError? Error)
{
    public static implicit operator ValidationOutcome(GatewayError error) => new(null, error);
    public static implicit operator ValidationOutcome(ValidatedRequest request) => new(request, null);
}
