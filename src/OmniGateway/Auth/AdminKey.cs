using System.Security.Cryptography;
using Microsoft.Extensions.Options;
using OmniGateway.Tenants;

namespace OmniGateway.Auth;

/// <summary>The admin key's hash, from <c>Gateway:AdminKeySha256</c> or (development) <c>Gateway:AdminKey</c>.</summary>
public sealed class AdminKey(IOptions<GatewayOptions> options)
{
    private readonly byte[]? _hash = options.Value.AdminKeySha256 is { Length: > 0 } hex
        ? Convert.FromHexString(hex)
        : options.Value.AdminKey is { Length: > 0 } plain ? KeyHashes.Of(plain) : null;

    public bool Matches(byte[] keySha256) => _hash is not null && CryptographicOperations.FixedTimeEquals(_hash, keySha256);
}
