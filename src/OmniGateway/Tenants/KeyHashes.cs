using System.Security.Cryptography;
using System.Text;
using System.Text.RegularExpressions;

namespace OmniGateway.Tenants;

/// <summary>
/// What the gateway keeps of a key: its SHA-256 (never the key), written as 64 hex characters in
/// configuration and the admin API, and shown by a short public id.
/// </summary>
public static partial class KeyHashes
{
    public static byte[] Of(ReadOnlySpan<char> key)
    {
        var byteCount = Encoding.UTF8.GetByteCount(key);
        Span<byte> utf8 = byteCount <= 512 ? stackalloc byte[byteCount] : new byte[byteCount];
        Encoding.UTF8.GetBytes(key, utf8);
        return SHA256.HashData(utf8);
    }

    /// <summary>Whether <paramref name="text"/> is a SHA-256 in hex (64 characters, either case).</summary>
    public static bool IsSha256Hex(string text) => Sha256Hex().IsMatch(text);

    [GeneratedRegex(@"^[0-9a-fA-F]{64}\z")]
    private static partial Regex Sha256Hex();
}

public static class KeyIds
{
    /// <summary>A key's public name: a short prefix of its hash, safe to log and to show.</summary>
    public static string FromHash(ReadOnlySpan<byte> sha256) => "key_" + Convert.ToHexStringLower(sha256[..6]);
}
