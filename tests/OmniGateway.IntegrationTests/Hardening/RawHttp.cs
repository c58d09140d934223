using System.Net.Sockets;
using System.Text;

namespace OmniGateway.IntegrationTests.Hardening;

/// <summary>An HTTP/1.1 request written by hand on a socket: a body can claim one length and send another, slowly.</summary>
public sealed class RawHttp : IAsyncDisposable
{
    private readonly TcpClient _client;
    private readonly NetworkStream _stream;

    private RawHttp(TcpClient client)
    {
        _client = client;
        _stream = client.GetStream();
    }

    public static async Task<RawHttp> PostAsync(Uri baseUrl, string path, string key, long contentLength, string bodyStart)
    {
        var client = new TcpClient();
        await client.ConnectAsync(baseUrl.Host, baseUrl.Port);
        var raw = new RawHttp(client);
        var head = $"POST {path} HTTP/1.1\r\nHost: {baseUrl.Authority}\r\nAuthorization: Bearer {key}\r\n" +
                   $"Content-Type: application/json\r\nContent-Length: {contentLength}\r\n\r\n{bodyStart}";
        await raw.SendAsync(Encoding.UTF8.GetBytes(head));
        return raw;
    }

    public async Task SendAsync(byte[] bytes)
    {
        await _stream.WriteAsync(bytes);
        await _stream.FlushAsync();
    }

    /// <summary>The status line and headers of the answer, and as much body as arrived with them.</summary>
    public async Task<(int Status, string Head)> ReadAnswerAsync(TimeSpan timeout)
    {
        using var cancel = new CancellationTokenSource(timeout);
        var received = new MemoryStream();
        var buffer = new byte[4096];
        while (true)
        {
            var n = await _stream.ReadAsync(buffer, cancel.Token);
            if (n == 0) break;
            received.Write(buffer, 0, n);
            var text = Encoding.UTF8.GetString(received.ToArray());
            if (text.Contains("\r\n\r\n", StringComparison.Ordinal) && (text.Contains("\"error\"", StringComparison.Ordinal) || !text.Contains("Content-Length", StringComparison.OrdinalIgnoreCase)))
                return (int.Parse(text.AsSpan(9, 3), System.Globalization.CultureInfo.InvariantCulture), text);
        }
        var all = Encoding.UTF8.GetString(received.ToArray());
        return all.Length >= 12 ? (int.Parse(all.AsSpan(9, 3), System.Globalization.CultureInfo.InvariantCulture), all) : (0, all);
    }

    public ValueTask DisposeAsync()
    {
        _client.Dispose();
        return ValueTask.CompletedTask;
    }
}
