namespace OmniGateway.Upstream;

/// <summary>
/// One proxied call as the retry handler sees it: the enriched body it may send again, and what it
/// reports back (how many tries, which destination answered) for the usage record and the log.
/// </summary>
public sealed class UpstreamCall(string requestId, ReadOnlyMemory<byte> body, Validation.UpstreamBodyBuffer? bodyBuffer = null)
{
    /// <summary>Where the transformer hands the call to <see cref="UpstreamRetryHandler"/>, on the outgoing request.</summary>
    public static readonly HttpRequestOptionsKey<UpstreamCall> OptionsKey = new("OmniGateway.UpstreamCall");

    public string RequestId { get; } = requestId;
    public ReadOnlyMemory<byte> Body { get; } = body;

    /// <summary>The pooled array under <see cref="Body"/>, if any: each try holds it while it sends.</summary>
    public Validation.UpstreamBodyBuffer? BodyBuffer { get; } = bodyBuffer;

    /// <summary>Tries sent upstream so far; 0 when the call never reached the upstream.</summary>
    public int Attempts { get; internal set; }

    /// <summary>Index in <c>Upstream:Destinations</c> of the last try's destination.</summary>
    public int? Destination { get; internal set; }
}
