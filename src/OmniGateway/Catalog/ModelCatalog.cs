using System.Collections.Frozen;
using Microsoft.Extensions.Options;

namespace OmniGateway.Catalog;

/// <summary>The served models, resolved once from configuration into lookup tables.</summary>
public sealed class ModelCatalog
{
    private readonly FrozenDictionary<string, ServedModel> _models;

    public ModelCatalog(IOptions<ModelCatalogOptions> options)
    {
        _models = options.Value.Models
            .Select(pair => new ServedModel(pair.Key, pair.Value))
            .ToFrozenDictionary(model => model.Id, StringComparer.Ordinal);
    }

    public IEnumerable<ServedModel> Models => _models.Values.OrderBy(m => m.Id, StringComparer.Ordinal);

    public ServedModel? Find(string id) => _models.GetValueOrDefault(id);

    /// <summary>The model a JSON string names (ordinal, as <see cref="Find(string)"/>), without making a string of it: once per call (issue 11).</summary>
    public ServedModel? Find(System.Text.Json.JsonElement id)
    {
        // A handful of models: comparing the UTF-8 bytes with each id beats transcoding the name to look it up.
        foreach (var model in _models.Values)
        {
            if (id.ValueEquals(model.Id)) return model;
        }
        return null;
    }
}

public sealed class ServedModel
{
    private readonly FrozenDictionary<string, VoiceOptions> _voicesByName;

    public ServedModel(string id, ModelOptions options)
    {
        Id = id;
        Options = options;
        var names = new Dictionary<string, VoiceOptions>(StringComparer.OrdinalIgnoreCase);
        foreach (var voice in options.Voices)
        {
            names.TryAdd(voice.Name, voice);
            foreach (var alias in voice.Aliases) names.TryAdd(alias, voice);
        }
        _voicesByName = names.ToFrozenDictionary(StringComparer.OrdinalIgnoreCase);
        var voiceNames = options.Voices.Select(v => v.Name).ToArray();
        VoiceNames = voiceNames;
        DefaultVoice = FindVoice(options.DefaultVoice ?? "")?.Name ?? (voiceNames.Length > 0 ? voiceNames[0] : null);
        DefaultOutputFormat = options.DefaultOutputFormat ?? options.OutputAudioFormats.FirstOrDefault() ?? "wav";
        DefaultsToAudio = options.DefaultModalities?.Contains("audio", StringComparer.Ordinal) ?? true;
    }

    public string Id { get; }
    public ModelOptions Options { get; }
    public IReadOnlyList<string> VoiceNames { get; }
    public string? DefaultVoice { get; }
    public string DefaultOutputFormat { get; }
    public bool DefaultsToAudio { get; }

    /// <summary>Case-insensitive, alias-aware: <c>tina</c> and <c>TINA</c> are <c>Tina</c>.</summary>
    public VoiceOptions? FindVoice(string name) => _voicesByName.GetValueOrDefault(name);

    /// <summary>
    /// The voice a JSON string names (case-insensitive, aliases too), without making a string of it: once per call
    /// (issue 11). A name too long for any voice, or escaped, is decoded as <see cref="FindVoice(string)"/> would get it.
    /// </summary>
    public VoiceOptions? FindVoice(System.Text.Json.JsonElement name)
    {
        var raw = System.Runtime.InteropServices.JsonMarshal.GetRawUtf8Value(name);
        if (raw.Length > 2 + MaxStackName || raw.IndexOf((byte)'\\') >= 0) return FindVoice(name.GetString()!);
        Span<char> chars = stackalloc char[MaxStackName];
        var length = System.Text.Encoding.UTF8.GetChars(raw[1..^1], chars); // the quotes off; the body is valid UTF-8 (checked first)
        return _voicesByName.GetAlternateLookup<ReadOnlySpan<char>>().TryGetValue(chars[..length], out var voice) ? voice : null;
    }

    private const int MaxStackName = 64;

    public VoiceMatch SuggestVoice(string given)
    {
        string? nearest = null;
        var best = int.MaxValue;
        foreach (var name in VoiceNames)
        {
            var distance = Levenshtein(given.ToUpperInvariant(), name.ToUpperInvariant());
            if (distance < best) (best, nearest) = (distance, name);
        }
        // A suggestion that shares almost nothing with the input is noise, not help.
        if (nearest is not null && best > Math.Max(2, nearest.Length / 2)) nearest = null;
        return new VoiceMatch(nearest, VoiceNames);
    }

    private static int Levenshtein(string a, string b)
    {
        if (a.Length > 64) a = a[..64];
        var previous = new int[b.Length + 1];
        var current = new int[b.Length + 1];
        for (var j = 0; j <= b.Length; j++) previous[j] = j;
        for (var i = 1; i <= a.Length; i++)
        {
            current[0] = i;
            for (var j = 1; j <= b.Length; j++)
            {
                var cost = a[i - 1] == b[j - 1] ? 0 : 1;
                current[j] = Math.Min(Math.Min(current[j - 1] + 1, previous[j] + 1), previous[j - 1] + cost);
            }
            (previous, current) = (current, previous);
        }
        return previous[b.Length];
    }
}

public readonly record struct VoiceMatch(string? Nearest, IReadOnlyList<string> ValidVoices);
