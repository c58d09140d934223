using System.Text.RegularExpressions;

namespace OmniGateway.Tests.Deploy;

/// <summary>What a pasted credential looks like, so a deploy file that gained one fails before it is pushed.
/// Placeholders (REPLACE_WITH_…, &lt;sha256 hex…&gt;, ${VARIABLE}) and file paths do not match.</summary>
internal static partial class KeyShapes
{
    private const int MinTokenLength = 24;

    public static IEnumerable<string> Find(string text)
    {
        foreach (var regex in new[] { ProviderKey(), PrivateKey(), LiteralPassword(), LongHex() })
        {
            foreach (Match m in regex.Matches(text)) yield return m.Value;
        }
        // Base64-ish runs: real keys mix cases and digits; placeholders, paths and words do not. Configuration
        // names (Gateway__Tenants__0__KeySha256) mix them too, so their `__`-separated parts are judged one by one.
        foreach (Match m in Token().Matches(text))
        {
            foreach (var part in m.Value.Split("__"))
            {
                if (part.Length >= MinTokenLength && part.Any(char.IsAsciiDigit) && part.Any(char.IsAsciiLetterUpper) && part.Any(char.IsAsciiLetterLower))
                    yield return part;
            }
        }
    }

    // OpenAI-style upstream keys and the gateway's own issued keys (contract 2: og- + at least 192 random bits).
    [GeneratedRegex(@"\b(sk|og)-[A-Za-z0-9_\-]{16,}")]
    private static partial Regex ProviderKey();

    [GeneratedRegex("-----BEGIN [A-Z ]*PRIVATE KEY-----")]
    private static partial Regex PrivateKey();

    // Password=secret in a connection string or a YAML value; ${VAR}, ${VAR:?message} and "..." are fine.
    [GeneratedRegex(@"(?i)password\s*[=:]\s*(?!\$\{)(?!\?)(?=[^\s;""']*[A-Za-z0-9])[^\s;""']+")]
    private static partial Regex LiteralPassword();

    // 128 bits and up of hex: a raw key, or a key hash that belongs in an installation's own config.
    [GeneratedRegex(@"\b[0-9a-fA-F]{32,}\b")]
    private static partial Regex LongHex();

    [GeneratedRegex(@"[A-Za-z0-9+/_\-]{24,}={0,2}")]
    private static partial Regex Token();
}
