using System.ComponentModel.DataAnnotations;
using Microsoft.Extensions.Configuration;

namespace OmniGateway.Catalog;

/// <summary>
/// <c>Models:&lt;model-id&gt;</c>. The shipped catalogue (<c>Catalog/voices.json</c>) is the lowest-priority
/// configuration source, so appsettings, environment variables and the command line override it key by key.
/// </summary>
public sealed class ModelCatalogOptions
{
    public Dictionary<string, ModelOptions> Models { get; set; } = new(StringComparer.Ordinal);
}

public sealed class ModelOptions
{
    [ConfigurationKeyName("owned_by")]
    public string OwnedBy { get; set; } = "omnigateway";

    public string? DefaultVoice { get; set; }
    public List<VoiceOptions> Voices { get; set; } = [];
    public List<string> InputAudioFormats { get; set; } = [];
    public List<string> OutputAudioFormats { get; set; } = [];
    public string? DefaultOutputFormat { get; set; }
    /// <summary>
    /// Null means text and audio. No pre-filled default: the binder appends to an existing list, so a
    /// configured ["text"] would become ["text","audio","text"] and still default to audio.
    /// </summary>
    public List<string>? DefaultModalities { get; set; }
    public bool SupportsThinking { get; set; }

    [Range(1, long.MaxValue)]
    public long MaxInlineBase64Bytes { get; set; } = 10_485_760;

    /// <summary>Versioned price table; empty means calls of this model carry no cost.</summary>
    public List<PriceOptions> Prices { get; set; } = [];

    /// <summary>
    /// The most output tokens one call may generate: the output cap a call reserves against its tenant's
    /// budgets when the request sets no <c>max_output_tokens</c>, and the ceiling of one it sets.
    /// </summary>
    public long MaxOutputTokens { get; set; } = 16_384;

    /// <summary>Rates that turn a request body into its input-token estimate at admission.</summary>
    public InputEstimateOptions InputEstimate { get; set; } = new();
}

/// <summary>
/// <c>Models:&lt;id&gt;:InputEstimate</c>. The estimate is meant to lie above the upstream's real count
/// (an underestimate is what a budget can overshoot by); what it over-reserves is given back when the call ends.
/// </summary>
public sealed class InputEstimateOptions
{
    /// <summary>UTF-8 bytes of the body outside inline media (JSON syntax included) per estimated token.</summary>
    public double TextBytesPerToken { get; set; } = 3;

    /// <summary>Tokens per KiB of inline base64 audio (compressed 64 kbit/s audio at 25 tokens a second is about 2.3).</summary>
    public double AudioTokensPerKiB { get; set; } = 3;

    /// <summary>Tokens per KiB of inline base64 image.</summary>
    public double ImageTokensPerKiB { get; set; } = 10;

    /// <summary>Tokens per KiB of inline base64 video.</summary>
    public double VideoTokensPerKiB { get; set; } = 10;

    /// <summary>Tokens per media part given by URL, whose size the gateway does not fetch to learn (the reference 9 s WAV: 879).</summary>
    public long UrlMediaTokens { get; set; } = 1_000;
}

public sealed class VoiceOptions
{
    public string Name { get; set; } = "";
    public List<string> Languages { get; set; } = [];
    public List<string> Aliases { get; set; } = [];
    public bool Verified { get; set; }
}
