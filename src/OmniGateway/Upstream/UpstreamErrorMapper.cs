using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using OmniGateway.Errors;

namespace OmniGateway.Upstream;

/// <summary>Contract 3.6: upstream refusals become the gateway's error shape, scrubbed of credentials.</summary>
public static partial class UpstreamErrorMapper
{
    private const int MaxErrorBodyBytes = 16 * 1024;

    public static async Task<GatewayError> MapAsync(HttpResponseMessage response, IReadOnlyList<string> serverKeys, TimeProvider time,
        CancellationToken cancellationToken)
    {
        var status = (int)response.StatusCode;
        var (code, message) = await ReadErrorAsync(response, cancellationToken);
        message = Scrub(message, serverKeys);
        code = code is null ? null : Scrub(code, serverKeys);
        return status switch
        {
            400 or 404 or 413 or 422 => GatewayErrors.UpstreamRejected(status, code,
                $"The upstream rejected the request: {message}"),
            401 or 403 => GatewayErrors.UpstreamAuthFailed(),
            429 => GatewayErrors.UpstreamRateLimited(RetryAfterSeconds(response.Headers.RetryAfter, time.GetUtcNow())),
            _ => GatewayErrors.UpstreamFailure($"The upstream failed with HTTP {status}: {message}"),
        };
    }

    public static int RetryAfterSeconds(RetryConditionHeaderValue? retryAfter, DateTimeOffset now) => retryAfter switch
    {
        { Delta: { } delta } => (int)Math.Ceiling(delta.TotalSeconds),
        { Date: { } date } => (int)Math.Ceiling((date - now).TotalSeconds),
        _ => 1,
    };

    private static async Task<(string? Code, string Message)> ReadErrorAsync(HttpResponseMessage response, CancellationToken cancellationToken)
    {
        byte[] body;
        try
        {
            await using var stream = await response.Content.ReadAsStreamAsync(cancellationToken);
            body = new byte[MaxErrorBodyBytes];
            var read = 0;
            int n;
            while (read < body.Length && (n = await stream.ReadAsync(body.AsMemory(read), cancellationToken)) > 0) read += n;
            Array.Resize(ref body, read);
        }
        catch (Exception exception) when (exception is IOException or HttpRequestException)
        {
            return (null, "(no error body)");
        }
        if (body.Length == 0) return (null, "(no error body)");
        try
        {
            using var document = JsonDocument.Parse(body);
            var root = document.RootElement;
            var error = root.TryGetProperty("error", out var e) ? e : root;
            if (error.ValueKind == JsonValueKind.String) return (null, Shorten(error.GetString()!));
            if (error.ValueKind == JsonValueKind.Object)
            {
                var message = error.TryGetProperty("message", out var m) && m.ValueKind == JsonValueKind.String ? m.GetString() : null;
                var code = error.TryGetProperty("code", out var c) && c.ValueKind == JsonValueKind.String ? c.GetString() : null;
                if (message is not null) return (code, Shorten(message));
            }
        }
        catch (JsonException)
        {
        }
        return (null, Shorten(Encoding.UTF8.GetString(body)));
    }

    private static string Shorten(string message)
    {
        message = message.Trim();
        return message.Length <= 500 ? message : string.Concat(message.AsSpan(0, 500), "…");
    }

    /// <summary>Removes every upstream key (<see cref="UpstreamClient.Keys"/>) and anything shaped like a key or a payload.</summary>
    public static string Scrub(string text, IReadOnlyList<string> serverKeys)
    {
        foreach (var serverKey in serverKeys)
        {
            if (serverKey.Length > 0) text = text.Replace(serverKey, "[redacted]", StringComparison.Ordinal);
        }
        return KeyShaped().Replace(text, "[redacted]");
    }

    // Bearer tokens, sk-/og- keys, and any unbroken run of 24+ key or base64 characters.
    [GeneratedRegex(@"(?i:bearer\s+\S+)|\b(?:sk|og)-[A-Za-z0-9_\-]{6,}|[A-Za-z0-9+/_\-=]{24,}")]
    private static partial Regex KeyShaped();
}
