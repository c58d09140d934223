using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Options;
using OmniGateway.Tenants;

namespace OmniGateway.Auth;

/// <summary>
/// Guessing keys is made slow and cheap for the gateway: a client address with
/// <c>Gateway:MaxAuthFailuresPerMinute</c> failed keys in its current minute gets 429 until that minute
/// ends, decided before any store lookup; and a key hash that just failed is remembered for
/// <see cref="UnknownKeyMemory"/>, so asking again costs no lookup either. Both tables are bounded.
/// IPv6 clients are counted per /64, the block one host usually holds.
/// </summary>
public sealed class AuthFailureThrottle(TimeProvider time, IOptions<GatewayOptions> options)
{
    public static readonly TimeSpan Window = TimeSpan.FromMinutes(1);

    /// <summary>Short: a key the admin API issues (or a tenant re-enabled) works within this, even if tried just before.</summary>
    public static readonly TimeSpan UnknownKeyMemory = TimeSpan.FromSeconds(30);

    private const int MaxEntries = 100_000;

    private readonly int _limit = options.Value.MaxAuthFailuresPerMinute;
    private readonly ConcurrentDictionary<string, FailureWindow> _clients = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, long> _unknownHashes = new(StringComparer.Ordinal);

    private sealed class FailureWindow(long startTicks)
    {
        public long StartTicks = startTicks;
        public int Count;
    }

    /// <summary>True when the address has used up its failures; <paramref name="retryAfterSeconds"/> is when its minute ends.</summary>
    public bool IsThrottled(IPAddress? address, out int retryAfterSeconds)
    {
        retryAfterSeconds = 0;
        if (_limit <= 0 || !_clients.TryGetValue(Client(address), out var window)) return false;
        var now = time.GetUtcNow().UtcTicks;
        lock (window)
        {
            var ends = window.StartTicks + Window.Ticks;
            if (now >= ends || window.Count < _limit) return false;
            retryAfterSeconds = (int)Math.Ceiling(TimeSpan.FromTicks(ends - now).TotalSeconds);
            return true;
        }
    }

    public void RecordFailure(IPAddress? address, byte[] keySha256)
    {
        var now = time.GetUtcNow().UtcTicks;
        if (_unknownHashes.Count >= MaxEntries) Sweep(_unknownHashes, now);
        _unknownHashes[Convert.ToHexString(keySha256)] = now + UnknownKeyMemory.Ticks;
        if (_limit <= 0) return;

        if (_clients.Count >= MaxEntries) SweepClients(now);
        var window = _clients.GetOrAdd(Client(address), static (_, start) => new FailureWindow(start), now);
        lock (window)
        {
            if (now >= window.StartTicks + Window.Ticks) (window.StartTicks, window.Count) = (now, 0);
            window.Count++;
        }
    }

    /// <summary>True when this hash failed within <see cref="UnknownKeyMemory"/>: it fails again without a lookup.</summary>
    public bool IsKnownUnknown(byte[] keySha256) =>
        _unknownHashes.TryGetValue(Convert.ToHexString(keySha256), out var expires) && time.GetUtcNow().UtcTicks < expires;

    private static string Client(IPAddress? address)
    {
        if (address is null) return "-";
        if (address.IsIPv4MappedToIPv6) address = address.MapToIPv4();
        if (address.AddressFamily != AddressFamily.InterNetworkV6) return address.ToString();
        var bytes = address.GetAddressBytes();
        Array.Clear(bytes, 8, 8);
        return new IPAddress(bytes) + "/64";
    }

    private static void Sweep(ConcurrentDictionary<string, long> table, long now)
    {
        foreach (var (key, expires) in table)
        {
            if (expires <= now) table.TryRemove(key, out _);
        }
        if (table.Count >= MaxEntries) table.Clear(); // a flood of fresh hashes: forgetting costs lookups, not correctness
    }

    private void SweepClients(long now)
    {
        foreach (var (key, window) in _clients)
        {
            if (window.StartTicks + Window.Ticks <= now) _clients.TryRemove(key, out _);
        }
        if (_clients.Count >= MaxEntries) _clients.Clear();
    }
}
