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

    /// <summary>A large body sent as it arrives (then <see cref="Body"/> is empty): every try sends it.</summary>
    public Validation.StreamedRequestBody? Streamed { get; init; }

    /// <summary>Try 1, when started while the body was still arriving; the retry loop adopts it.</summary>
    internal UpstreamFirstTry? FirstTry { get; set; }

    /// <summary>The headers every try carries besides its destination's key: what it asks for and which call it is.</summary>
    public void SetHeaders(System.Net.Http.Headers.HttpRequestHeaders headers)
    {
        headers.TryAddWithoutValidation("Accept", "text/event-stream"); // as text: no typed header collection per call
        headers.TryAddWithoutValidation("x-request-id", RequestId);
    }

    /// <summary>Try 1 for the retry loop to wait for, if one was started and not abandoned.</summary>
    internal UpstreamFirstTry? AdoptFirstTry() => FirstTry is { } first && first.TryClaim() ? first : null;

    /// <summary>The call will not be forwarded with the try started early: it is cancelled. No effect once adopted.</summary>
    public void AbandonFirstTry() => FirstTry?.Abandon();

    /// <summary>Tries sent upstream so far; 0 when the call never reached the upstream.</summary>
    public int Attempts { get; internal set; }

    /// <summary>Index in <c>Upstream:Destinations</c> of the last try's destination.</summary>
    public int? Destination { get; internal set; }
}
