using System.Buffers.Text;
using System.Security.Cryptography;

namespace OmniGateway.Tenants;

/// <summary>Keys the gateway issues: <c>og-</c> and 256 random bits, base64url (contract 2 asks for at least 192).</summary>
public static class ApiKeys
{
    public const string Prefix = "og-";
    private const int RandomBytes = 32;

    /// <summary>A new key, its hash (the only thing stored) and its public id.</summary>
    public static (string Key, byte[] Sha256, string KeyId) Issue()
    {
        Span<byte> random = stackalloc byte[RandomBytes];
        RandomNumberGenerator.Fill(random);
        var key = Prefix + Base64Url.EncodeToString(random);
        var hash = KeyHashes.Of(key);
        return (key, hash, KeyIds.FromHash(hash));
    }
}
