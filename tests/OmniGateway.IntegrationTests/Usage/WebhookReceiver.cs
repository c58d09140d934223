using System.Collections.Concurrent;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;

namespace OmniGateway.IntegrationTests.Usage;

/// <summary>
/// A usage-feed receiver on a real loopback port, written the way docs/usage-ledger.md tells a receiver
/// to be written: verify the signature over the exact bytes, refuse stale timestamps, keep each record
/// once by its idempotency key, answer 2xx only after keeping them. <see cref="Down"/> answers 503.
/// </summary>
public sealed class WebhookReceiver : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly byte[] _secret;

    private WebhookReceiver(WebApplication app, string secret) => (_app, _secret) = (app, Encoding.UTF8.GetBytes(secret));

    public Uri Url { get; private set; } = null!;

    private volatile bool _down;
    private int _refused;
    private int _badSignatures;

    public bool Down { get => _down; set => _down = value; }

    /// <summary>A pause before answering, so a kill can land mid-delivery.</summary>
    public TimeSpan Delay { get; set; }

    /// <summary>Every record of every accepted POST, in arrival order (duplicates included).</summary>
    public ConcurrentQueue<JsonElement> Received { get; } = new();

    /// <summary>Each record kept once, by idempotency key.</summary>
    public ConcurrentDictionary<string, JsonElement> Kept { get; } = new(StringComparer.Ordinal);

    public int Refused => Volatile.Read(ref _refused);
    public int BadSignatures => Volatile.Read(ref _badSignatures);
    public ConcurrentQueue<int> BatchSizes { get; } = new();

    public static async Task<WebhookReceiver> StartAsync(string secret)
    {
        var app = LoopbackApp.Create();
        var receiver = new WebhookReceiver(app, secret);
        app.MapPost("/usage", (Delegate)receiver.HandleAsync);
        receiver.Url = new Uri(await LoopbackApp.StartAsync(app), "/usage");
        return receiver;
    }

    private async Task<IResult> HandleAsync(HttpContext context)
    {
        using var buffer = new MemoryStream();
        await context.Request.Body.CopyToAsync(buffer);
        if (Delay > TimeSpan.Zero) await Task.Delay(Delay);
        if (Down)
        {
            Interlocked.Increment(ref _refused);
            return Results.StatusCode(StatusCodes.Status503ServiceUnavailable);
        }
        var body = buffer.ToArray();
        if (!Verify(context.Request.Headers["x-omnigateway-signature"].ToString(), body))
        {
            Interlocked.Increment(ref _badSignatures);
            return Results.Unauthorized();
        }
        using var document = JsonDocument.Parse(body);
        BatchSizes.Enqueue(document.RootElement.GetArrayLength());
        foreach (var record in document.RootElement.EnumerateArray())
        {
            var copy = record.Clone();
            Received.Enqueue(copy);
            Kept.TryAdd(copy.GetProperty("idempotency_key").GetString()!, copy);
        }
        return Results.Ok();
    }

    /// <summary>The documented recipe: t=…,v1=hex(HMAC-SHA256(secret, t + "." + raw body)), compared in constant time, t within 5 minutes.</summary>
    private bool Verify(string header, byte[] body)
    {
        var parts = header.Split(',').Select(p => p.Split('=', 2)).Where(p => p.Length == 2).ToDictionary(p => p[0], p => p[1]);
        if (!parts.TryGetValue("t", out var t) || !parts.TryGetValue("v1", out var v1) || !long.TryParse(t, out var seconds)) return false;
        if (Math.Abs(DateTimeOffset.UtcNow.ToUnixTimeSeconds() - seconds) > 300) return false;
        byte[] signed = [.. Encoding.UTF8.GetBytes(t + "."), .. body];
        var expected = HMACSHA256.HashData(_secret, signed);
        try
        {
            return CryptographicOperations.FixedTimeEquals(expected, Convert.FromHexString(v1));
        }
        catch (FormatException)
        {
            return false;
        }
    }

    public async Task WaitForAsync(Func<bool> condition, TimeSpan timeout, string what)
    {
        var until = DateTime.UtcNow + timeout;
        while (!condition())
        {
            if (DateTime.UtcNow > until) throw new TimeoutException($"{what} did not happen within {timeout}: {Kept.Count} kept, {Received.Count} received, {Refused} refused");
            await Task.Delay(25);
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}
