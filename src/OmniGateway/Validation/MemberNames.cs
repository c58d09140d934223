using System.Text.Json;
using OmniGateway.Errors;

namespace OmniGateway.Validation;

/// <summary>
/// Member names are exact. Many JSON readers (Go's encoding/json among them) match names ignoring case,
/// so <c>{"model":…,"Model":…}</c> would let the upstream read a model the rules never saw, and a lone
/// <c>"Background"</c> a field the gateway refuses. Letter case is folded as such readers fold it,
/// including the Kelvin sign and the long s.
/// </summary>
internal static class MemberNames
{
    /// <summary>The request's top-level fields the gateway reads or rewrites; no other spelling of them may pass.</summary>
    private static readonly string[] Interpreted =
        ["model", "input", "stream", "stream_options", "modalities", "audio", "enable_thinking", "background", "max_output_tokens"];

    public static GatewayError? Check(JsonElement root)
    {
        if (FindCaseTwin(root, "") is { } twin)
            return GatewayErrors.BadRequest("invalid_json",
                $"'{twin.Path}' and '{twin.Other}' are members of one object whose names differ only in letter case. Member names are exact; send one of them.",
                twin.Path);
        if (root.ValueKind != JsonValueKind.Object) return null;
        foreach (var property in root.EnumerateObject())
        {
            var folded = Fold(property.Name);
            if (Interpreted.FirstOrDefault(name => name == folded) is { } name && name != property.Name)
                return GatewayErrors.BadRequest("invalid_json",
                    $"'{GatewayErrors.Truncate(property.Name)}' is not a member name; member names are exact. Spell it '{name}'.", GatewayErrors.Truncate(property.Name));
        }
        return null;
    }

    private static (string Path, string Other)? FindCaseTwin(JsonElement element, string path)
    {
        switch (element.ValueKind)
        {
            case JsonValueKind.Object:
                Dictionary<string, string>? seen = null;
                foreach (var property in element.EnumerateObject())
                {
                    var name = property.Name;
                    var memberPath = path.Length == 0 ? name : path + "." + name;
                    seen ??= new Dictionary<string, string>(StringComparer.Ordinal);
                    if (!seen.TryAdd(Fold(name), name))
                        return (GatewayErrors.Truncate(memberPath), GatewayErrors.Truncate(path.Length == 0 ? seen[Fold(name)] : path + "." + seen[Fold(name)]));
                    if (property.Value.ValueKind is JsonValueKind.Object or JsonValueKind.Array && FindCaseTwin(property.Value, memberPath) is { } found) return found;
                }
                return null;
            case JsonValueKind.Array:
                var index = 0;
                foreach (var item in element.EnumerateArray())
                {
                    if (item.ValueKind is JsonValueKind.Object or JsonValueKind.Array && FindCaseTwin(item, $"{path}[{index}]") is { } found) return found;
                    index++;
                }
                return null;
            default:
                return null;
        }
    }

    /// <summary>Simple case folding, as case-insensitive readers match names: 'ſ' is 's' and 'K' (Kelvin) is 'k'.</summary>
    private static string Fold(string name)
    {
        var ascii = true;
        foreach (var c in name)
        {
            if (c > 0x7F || char.IsAsciiLetterUpper(c)) { ascii = false; break; }
        }
        if (ascii) return name;
        return string.Create(name.Length, name, static (span, source) =>
        {
            for (var i = 0; i < source.Length; i++)
            {
                span[i] = source[i] switch
                {
                    '\u017F' => 's', // ſ, which .NET's invariant casing leaves alone
                    '\u212A' => 'k', // the Kelvin sign
                    var c => char.ToLowerInvariant(char.ToUpperInvariant(c)),
                };
            }
        });
    }
}
