using System.Buffers.Binary;
using System.Security.Cryptography;

namespace OmniGateway.Observability;

/// <summary>Ids such as <c>req_…</c> and <c>rec_…</c>: a prefix and a GUID's 32 hex digits, written into one string.</summary>
/// <remarks>
/// The GUIDs' random bits come from <see cref="RandomNumberGenerator"/> a buffer at a time, not from
/// <see cref="Guid.NewGuid"/> or <see cref="Guid.CreateVersion7()"/> (issue 11): on Linux those read
/// <c>/dev/urandom</c> with a system call per GUID, two per stream (the request id and the record key), and
/// OpenSSL's generator, which draws in process, still asks the kernel for its process id on every call.
/// </remarks>
public static class PrefixedIds
{
    public static string Of(string prefix, Guid value) => string.Create(prefix.Length + 32, (prefix, value), static (id, state) =>
    {
        state.prefix.CopyTo(id);
        state.value.TryFormat(id[state.prefix.Length..], out _, "N");
    });

    /// <summary>A new id with a random GUID (RFC 9562 version 4: 122 random bits).</summary>
    public static string Random(string prefix)
    {
        Span<byte> bytes = stackalloc byte[16];
        RandomBytes.Fill(bytes);
        return Of(prefix, Versioned(bytes, 0x40));
    }

    /// <summary>
    /// A new id whose GUID is time-ordered (RFC 9562 version 7: 48 bits of Unix milliseconds, then 74 random bits),
    /// so an index on it grows at its last page, one page per commit rather than one per record.
    /// </summary>
    public static string TimeOrdered(string prefix, DateTimeOffset now)
    {
        Span<byte> bytes = stackalloc byte[16];
        BinaryPrimitives.WriteInt64BigEndian(bytes, now.ToUnixTimeMilliseconds() << 16); // the low 48 bits in bytes 0–5
        RandomBytes.Fill(bytes[6..]);
        return Of(prefix, Versioned(bytes, 0x70));
    }

    private static Guid Versioned(Span<byte> bytes, byte version)
    {
        bytes[6] = (byte)(version | (bytes[6] & 0x0F));
        bytes[8] = (byte)(0x80 | (bytes[8] & 0x3F)); // the RFC 9562 variant
        return new Guid(bytes, bigEndian: true);
    }

    /// <summary>Cryptographically random bytes, refilled per thread 512 at a time; each byte is handed out once.</summary>
    private static class RandomBytes
    {
        [ThreadStatic] private static byte[]? _buffer;
        [ThreadStatic] private static int _used;

        public static void Fill(Span<byte> destination)
        {
            var buffer = _buffer ??= new byte[512];
            if (_used == 0 || buffer.Length - _used < destination.Length) // 0: a new buffer, not yet filled
            {
                RandomNumberGenerator.Fill(buffer);
                _used = 0;
            }
            buffer.AsSpan(_used, destination.Length).CopyTo(destination);
            buffer.AsSpan(_used, destination.Length).Clear(); // not kept once handed out
            _used += destination.Length;
        }
    }
}
