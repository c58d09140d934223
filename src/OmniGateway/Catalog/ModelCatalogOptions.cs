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
}

public sealed class VoiceOptions
{
    public string Name { get; set; } = "";
    public List<string> Languages { get; set; } = [];
    public List<string> Aliases { get; set; } = [];
    public bool Verified { get; set; }
}
