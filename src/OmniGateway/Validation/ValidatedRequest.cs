using System.Buffers.Text;
using System.Runtime.InteropServices;
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
    /// <summary>
    /// The pooled array under <see cref="UpstreamBody"/>, when validation wrote one: the endpoint disposes it when the call
    /// ends (the tries sending it hold it meanwhile). Copies made with <c>with</c> share it.
    /// </summary>
    public UpstreamBodyBuffer? BodyBuffer { get; init; }

    /// <summary>What the cost budgets reserved for this call, and the price version it is priced with; null without a cost budget.</summary>
    public Usage.CostReservation? ReservedCost { get; init; }

    /// <summary>Attribution tags for the usage record (metadata and <c>x-omnigateway-tags</c>).</summary>
    public IReadOnlyDictionary<string, string> Tags { get; init; } = Usage.UsageRecord.EmptyTags;

    /// <summary>Width of the <c>max_output_tokens</c> value in the body: any long, padded with JSON whitespace.</summary>
    internal const int MaxOutputTokensWidth = 19;

    /// <summary>Input tokens this call is expected to cost (see <see cref="RateLimiting.InputEstimate"/>).</summary>
    public long InputTokenEstimate { get; init; }

    /// <summary>The caller's <c>max_output_tokens</c> (at most the model's), else the model's <c>MaxOutputTokens</c>.</summary>
    public long MaxOutputTokens { get; init; }

    /// <summary>Where the forwarded <c>max_output_tokens</c> value sits in <see cref="UpstreamBody"/>; -1 when none is forwarded.</summary>
    internal int MaxOutputTokensSlot { get; init; } = -1;

    /// <summary>
    /// <see cref="UpstreamBody"/> is not the whole body but its rest, an object of the members the streamed body's first
    /// try has not sent (<see cref="StreamedRequestBody.Accept"/>).
    /// </summary>
    public bool UpstreamBodyIsRest { get; init; }

    /// <summary>What admission reserved for this call: charged to budgets and tokens per minute if the upstream never reports usage.</summary>
    /// <remarks>Set by admission in place, as it lowers the body's output cap in place: a <c>with</c> copy of the whole
    /// request per call was ~190 B allocated per stream (issue 11).</remarks>
    public long? ReservedTokens { get; internal set; }

    /// <summary>
    /// Lowers the forwarded <c>max_output_tokens</c> in place (admission's budget clamp), so a large body is
    /// never rewritten. Returns false when the body carries no <c>max_output_tokens</c> to lower.
    /// </summary>
    public bool ForwardMaxOutputTokens(long tokens)
    {
        if (MaxOutputTokensSlot < 0) return false;
        var slot = MemoryMarshal.AsMemory(UpstreamBody).Span.Slice(MaxOutputTokensSlot, MaxOutputTokensWidth);
        slot.Fill((byte)' ');
        return Utf8Formatter.TryFormat(tokens, slot, out _);
    }
}
