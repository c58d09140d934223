using System.Collections.Frozen;
using System.Globalization;
using System.Text.Json;
using System.Text.RegularExpressions;
using Microsoft.Extensions.Options;
using OmniGateway.Catalog;

namespace OmniGateway.Usage.Pricing;

/// <summary>One version of a model's price, per million tokens.</summary>
public sealed record ModelPrice(
    DateTimeOffset EffectiveFrom,
    string Currency,
    decimal InputPerMillion,
    decimal CachedInputPerMillion,
    decimal OutputPerMillion,
    decimal? AudioInputPerMillion,
    decimal? AudioOutputPerMillion);

/// <summary>
/// The catalogue's price versions per model. A call is priced with the version in force when it
/// started, so a later price change never reprices history, and a record always names its version.
/// </summary>
public sealed partial class PriceTable
{
    /// <summary>Rates finer than this (per million tokens) would make a token's cost inexact in <see cref="UsageCost.PicosPerUnit"/>.</summary>
    private const int MaxRateDecimals = 6;

    private readonly FrozenDictionary<string, ModelPrice[]> _versions;

    public PriceTable(IOptions<ModelCatalogOptions> options)
    {
        _versions = options.Value.Models.ToFrozenDictionary(
            pair => pair.Key,
            pair => pair.Value.Prices.Select(ToPrice).OrderBy(p => p.EffectiveFrom).ToArray(),
            StringComparer.Ordinal);
    }

    /// <summary>The version in force at <paramref name="at"/>, or null when the model has none yet.</summary>
    public ModelPrice? Find(string model, DateTimeOffset at)
    {
        if (!_versions.TryGetValue(model, out var versions)) return null;
        ModelPrice? found = null;
        foreach (var version in versions)
        {
            if (version.EffectiveFrom > at) break;
            found = version;
        }
        return found;
    }

    /// <summary>
    /// A call's cost with the version in force at its start; null when the model has no price. A call that reserved
    /// against a cost budget is priced with the version it reserved at, so its cost stays within the reservation.
    /// </summary>
    public UsageCost? CostOf(string model, DateTimeOffset startedAt, UpstreamUsage? usage, ModelPrice? reservedAt = null) =>
        reservedAt is not null ? UsageCost.Of(usage, reservedAt)
        : Find(model, startedAt) is { } price ? UsageCost.Of(usage, price) : null;

    private static ModelPrice ToPrice(PriceOptions p) => new(
        ParseInstant(p.EffectiveFrom)!.Value, p.Currency!, p.InputPerMillion!.Value, p.CachedInputPerMillion ?? p.InputPerMillion!.Value,
        p.OutputPerMillion!.Value, p.AudioInputPerMillion, p.AudioOutputPerMillion);

    private static DateTimeOffset? ParseInstant(string? value) =>
        // An explicit Z or offset: without one the instant would depend on the host's time zone.
        value is not null && ExplicitOffset().IsMatch(value)
        && DateTimeOffset.TryParse(value, CultureInfo.InvariantCulture, DateTimeStyles.AdjustToUniversal, out var parsed)
            ? parsed : null;

    [GeneratedRegex(@"^\d{4}-\d\d-\d\dT\d\d:\d\d(:\d\d(\.\d+)?)?(Z|[+-]\d\d:\d\d)\z", RegexOptions.IgnoreCase)]
    private static partial Regex ExplicitOffset();

    /// <summary>Start-up checks, each failure naming its key; the binder's own errors (a rate that is not a number) stop start-up too.</summary>
    internal static void Validate(string modelKey, List<PriceOptions> prices, List<string> failures)
    {
        var seen = new HashSet<DateTimeOffset>();
        for (var i = 0; i < prices.Count; i++)
        {
            var p = prices[i];
            var key = $"{modelKey}:Prices:{i}";
            if (ParseInstant(p.EffectiveFrom) is not { } from)
                failures.Add($"{key}:EffectiveFrom must be a UTC instant with an offset, e.g. 2026-01-01T00:00:00Z (got '{p.EffectiveFrom}').");
            else if (!seen.Add(from))
                failures.Add($"{key}:EffectiveFrom {p.EffectiveFrom} is the same instant as another price version of this model.");
            if (p.Currency is null || p.Currency.Length != 3 || !p.Currency.All(char.IsAsciiLetterUpper))
                failures.Add($"{key}:Currency must be an ISO 4217 code in upper case, e.g. USD or CNY (got '{p.Currency}').");
            if (p.InputPerMillion is null) failures.Add($"{key}:InputPerMillion is required (price per million input tokens).");
            if (p.OutputPerMillion is null) failures.Add($"{key}:OutputPerMillion is required (price per million output tokens, reasoning included).");
            foreach (var (name, rate) in new[] { ("InputPerMillion", p.InputPerMillion), ("CachedInputPerMillion", p.CachedInputPerMillion),
                         ("OutputPerMillion", p.OutputPerMillion), ("AudioInputPerMillion", p.AudioInputPerMillion), ("AudioOutputPerMillion", p.AudioOutputPerMillion) })
            {
                if (rate is not { } r) continue;
                if (r < 0 || r > 1_000_000)
                    failures.Add($"{key}:{name} must be between 0 and 1000000 (got {r.ToString(CultureInfo.InvariantCulture)}).");
                else if (decimal.Round(r, MaxRateDecimals) != r)
                    failures.Add($"{key}:{name} has more than {MaxRateDecimals} decimal places ({r.ToString(CultureInfo.InvariantCulture)}); costs are exact to 1e-12 of the currency unit.");
            }
        }
    }
}

/// <summary>A record's cost, exact: a decimal amount in a currency, and the price version that produced it.</summary>
public sealed record UsageCost(decimal? Amount, string Currency, DateTimeOffset PriceEffectiveFrom)
{
    /// <summary>Costs are stored as integers of 1e-12 currency units: exact for every rate with at most 6 decimals per million tokens.</summary>
    public const long PicosPerUnit = 1_000_000_000_000;

    /// <summary>
    /// As OpenAI bills: input less cached (less audio, when priced apart) at the input rate, cached at
    /// the cached rate, output (reasoning included; less audio when priced apart) at the output rate.
    /// No reported usage: the amount is unknown (null), not zero.
    /// </summary>
    public static UsageCost Of(UpstreamUsage? usage, ModelPrice price)
    {
        if (usage is null) return new UsageCost(null, price.Currency, price.EffectiveFrom);
        long audioIn = 0, audioOut = 0;
        if (price.AudioInputPerMillion is not null || price.AudioOutputPerMillion is not null)
            (audioIn, audioOut) = AudioTokens(usage.RawJson);
        if (price.AudioInputPerMillion is null) audioIn = 0;
        if (price.AudioOutputPerMillion is null) audioOut = 0;

        var cached = Math.Clamp(usage.CachedTokens, 0, Math.Max(usage.InputTokens, 0));
        audioIn = Math.Clamp(audioIn, 0, Math.Max(usage.InputTokens - cached, 0));
        audioOut = Math.Clamp(audioOut, 0, Math.Max(usage.OutputTokens, 0));
        var textIn = Math.Max(usage.InputTokens - cached - audioIn, 0);
        var textOut = Math.Max(usage.OutputTokens - audioOut, 0);

        var perMillion = textIn * price.InputPerMillion + cached * price.CachedInputPerMillion + textOut * price.OutputPerMillion
                         + audioIn * (price.AudioInputPerMillion ?? 0) + audioOut * (price.AudioOutputPerMillion ?? 0);
        return new UsageCost(Normalize(perMillion / 1_000_000m), price.Currency, price.EffectiveFrom);
    }

    /// <summary>The stored form; null when unknown or (beyond any real call) too large for 64 bits.</summary>
    public long? Picos => Amount is { } amount ? ToPicos(amount) : null;

    public static long? ToPicos(decimal amount) => amount <= long.MaxValue / PicosPerUnit ? (long)(amount * PicosPerUnit) : null;

    public static decimal FromPicos(long picos) => Normalize(picos / (decimal)PicosPerUnit);

    /// <summary>Drops trailing zeros (0.001200000000 → 0.0012): the same amount, written the way people write it.</summary>
    public static decimal Normalize(decimal value) => value / 1.000000000000000000000000000000000m;

    /// <summary><c>input_tokens_details.audio_tokens</c> and <c>output_tokens_details.audio_tokens</c>, where the upstream reports them.</summary>
    private static (long In, long Out) AudioTokens(string rawUsage)
    {
        try
        {
            using var document = JsonDocument.Parse(rawUsage);
            return (Detail(document.RootElement, "input_tokens_details"), Detail(document.RootElement, "output_tokens_details"));
        }
        catch (JsonException)
        {
            return (0, 0);
        }

        static long Detail(JsonElement usage, string name) =>
            usage.ValueKind == JsonValueKind.Object && usage.TryGetProperty(name, out var details) && details.ValueKind == JsonValueKind.Object
            && details.TryGetProperty("audio_tokens", out var audio) && audio.TryGetInt64(out var tokens) ? tokens : 0;
    }
}
