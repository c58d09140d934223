using System.Runtime.InteropServices;
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

    private static readonly byte[][] InterpretedUtf8 = Interpreted.Select(System.Text.Encoding.UTF8.GetBytes).ToArray();

    /// <summary>Objects up to this many members are checked pairwise on their raw names; larger ones through a dictionary.</summary>
    private const int PairwiseMembers = 16;

    public static GatewayError? Check(JsonElement root)
    {
        // The common request (ASCII names, no twins) is settled without a string or a dictionary (bench/: allocated
        // per stream); anything else (non-ASCII or escaped names, large objects, a suspect) takes the exact path below.
        if (IsPlainlyExact(root)) return null;
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

    /// <summary>
    /// True when every name is plain ASCII without escapes, no object holds two names equal ignoring case, and no
    /// top-level name is an interpreted field's other spelling. False means "look closely", not "refuse".
    /// </summary>
    private static bool IsPlainlyExact(JsonElement root)
    {
        if (root.ValueKind != JsonValueKind.Object || !HasNoAsciiTwins(root)) return false;
        foreach (var property in root.EnumerateObject())
        {
            var name = JsonMarshal.GetRawUtf8PropertyName(property);
            foreach (var interpreted in InterpretedUtf8)
            {
                if (name.Length == interpreted.Length && System.Text.Ascii.EqualsIgnoreCase(name, interpreted) && !name.SequenceEqual(interpreted)) return false;
            }
        }
        return true;
    }

    private static bool HasNoAsciiTwins(JsonElement element)
    {
        switch (element.ValueKind)
        {
            case JsonValueKind.Object:
                var index = 0;
                foreach (var property in element.EnumerateObject())
                {
                    var name = JsonMarshal.GetRawUtf8PropertyName(property);
                    // Escapes and non-ASCII letters fold in ways only the exact path knows ('ſ', the Kelvin sign).
                    if (index >= PairwiseMembers || !System.Text.Ascii.IsValid(name) || name.IndexOf((byte)'\\') >= 0) return false;
                    var earlier = 0;
                    foreach (var other in element.EnumerateObject())
                    {
                        if (earlier++ == index) break;
                        if (System.Text.Ascii.EqualsIgnoreCase(name, JsonMarshal.GetRawUtf8PropertyName(other))) return false;
                    }
                    index++;
                    if (property.Value.ValueKind is JsonValueKind.Object or JsonValueKind.Array && !HasNoAsciiTwins(property.Value)) return false;
                }
                return true;
            case JsonValueKind.Array:
                foreach (var item in element.EnumerateArray())
                {
                    if (item.ValueKind is JsonValueKind.Object or JsonValueKind.Array && !HasNoAsciiTwins(item)) return false;
                }
                return true;
            default:
                return true;
        }
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
