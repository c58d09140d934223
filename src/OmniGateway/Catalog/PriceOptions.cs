namespace OmniGateway.Catalog;

/// <summary>
/// <c>Models:&lt;id&gt;:Prices:&lt;n&gt;</c>: one version of the model's price, in force from
/// <see cref="EffectiveFrom"/> until the next version's. Rates are per million tokens, in <see cref="Currency"/>.
/// </summary>
public sealed class PriceOptions
{
    /// <summary>A UTC instant with an explicit offset (2026-01-01T00:00:00Z); a bare local time would mean different instants on different hosts.</summary>
    public string? EffectiveFrom { get; set; }

    /// <summary>ISO 4217, upper case: USD, CNY, EUR.</summary>
    public string? Currency { get; set; }

    public decimal? InputPerMillion { get; set; }

    /// <summary>Cached input tokens; unset means no discount (the input rate).</summary>
    public decimal? CachedInputPerMillion { get; set; }

    /// <summary>Output tokens, reasoning included.</summary>
    public decimal? OutputPerMillion { get; set; }

    /// <summary>Input audio tokens, when the upstream's usage splits them out (<c>input_tokens_details.audio_tokens</c>).</summary>
    public decimal? AudioInputPerMillion { get; set; }

    /// <summary>Output audio tokens, when the upstream's usage splits them out (<c>output_tokens_details.audio_tokens</c>).</summary>
    public decimal? AudioOutputPerMillion { get; set; }

    /// <summary>Free text for operators, e.g. where the figures come from; the shipped example says PLACEHOLDER.</summary>
    public string? Note { get; set; }
}
