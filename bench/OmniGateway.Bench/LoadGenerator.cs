using System.Buffers;
using System.Diagnostics;
using System.Net.Http.Headers;

namespace OmniGateway.Bench;

/// <summary>One way to reach the fake upstream: directly, through the gateway, or through nginx.</summary>
public sealed class Target : IDisposable
{
    private readonly HttpClient _client;
    private readonly AuthenticationHeaderValue _authorization;

    public Target(string name, Uri baseUrl, string key)
    {
        Name = name;
        BaseUrl = baseUrl;
        _authorization = new AuthenticationHeaderValue("Bearer", key);
        _client = new HttpClient(new SocketsHttpHandler
        {
            UseProxy = false,
            MaxConnectionsPerServer = int.MaxValue,
            PooledConnectionIdleTimeout = TimeSpan.FromMinutes(5),
            AutomaticDecompression = System.Net.DecompressionMethods.None,
            ConnectTimeout = TimeSpan.FromSeconds(30),
        })
        { BaseAddress = baseUrl, Timeout = Timeout.InfiniteTimeSpan };
    }

    public string Name { get; }
    public Uri BaseUrl { get; }

    /// <summary>
    /// One streamed call: time to the first body byte (the first event) and to the last, from the
    /// moment the request is handed to the client. Reads the body as a frontend would, into a reused buffer.
    /// </summary>
    /// <param name="closeConnection">Ends the connection with the call (the scale scenario's thousands of streams), instead of pooling it.</param>
    public async Task<StreamTiming> StreamAsync(byte[] body, CancellationToken cancellationToken, Func<Task>? afterFirstByte = null, bool closeConnection = false)
    {
        var buffer = ArrayPool<byte>.Shared.Rent(16 * 1024);
        var start = Stopwatch.GetTimestamp();
        try
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, "/v1/responses") { Content = new ByteArrayContent(body) };
            request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
            request.Headers.Authorization = _authorization;
            if (closeConnection) request.Headers.ConnectionClose = true;
            using var response = await _client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancellationToken);
            if (!response.IsSuccessStatusCode) return StreamTiming.Failed((int)response.StatusCode);
            await using var stream = await response.Content.ReadAsStreamAsync(cancellationToken);
            var read = await stream.ReadAsync(buffer, cancellationToken);
            var first = Stopwatch.GetElapsedTime(start);
            if (afterFirstByte is not null) await afterFirstByte();
            while (read > 0) read = await stream.ReadAsync(buffer, cancellationToken);
            return new StreamTiming(first.TotalMilliseconds, Stopwatch.GetElapsedTime(start).TotalMilliseconds, 200);
        }
        catch (Exception exception) when (exception is HttpRequestException or IOException)
        {
            return StreamTiming.Failed(0);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    public void Dispose() => _client.Dispose();
}

public readonly record struct StreamTiming(double FirstByteMs, double LastByteMs, int Status)
{
    public bool Ok => Status == 200;
    public static StreamTiming Failed(int status) => new(0, 0, status);
}

/// <summary>The outcome of one closed-loop run against one target.</summary>
public sealed record LoadRun(string Target, int Concurrency, List<StreamTiming> Calls, TimeSpan Elapsed, double LoadGeneratorCpuShare)
{
    public int Failures => Calls.Count(c => !c.Ok);
    public IEnumerable<StreamTiming> Succeeded => Calls.Where(c => c.Ok);
    public double StreamsPerSecond => Calls.Count(c => c.Ok) / Elapsed.TotalSeconds;
}

public static class LoadGenerator
{
    /// <summary>
    /// <paramref name="concurrency"/> workers, each streaming back to back until it has done
    /// <paramref name="streamsPerWorker"/> calls or <paramref name="duration"/> has passed.
    /// Also reports the bench process's own CPU share, to show it was not the bottleneck.
    /// </summary>
    public static async Task<LoadRun> RunAsync(Target target, byte[] body, int concurrency, int streamsPerWorker = int.MaxValue, TimeSpan? duration = null)
    {
        using var stop = new CancellationTokenSource();
        var self = Process.GetCurrentProcess();
        var cpuBefore = self.TotalProcessorTime;
        var started = Stopwatch.GetTimestamp();
        var deadline = duration is { } d ? started + (long)(d.TotalSeconds * Stopwatch.Frequency) : long.MaxValue;
        var perWorker = new List<StreamTiming>[concurrency];
        var workers = Enumerable.Range(0, concurrency).Select(w => Task.Run(async () =>
        {
            var calls = perWorker[w] = [];
            for (var n = 0; n < streamsPerWorker && Stopwatch.GetTimestamp() < deadline; n++)
                calls.Add(await target.StreamAsync(body, stop.Token));
        })).ToArray();
        await Task.WhenAll(workers);
        var elapsed = Stopwatch.GetElapsedTime(started);
        self.Refresh();
        var cpuShare = (self.TotalProcessorTime - cpuBefore).TotalSeconds / (elapsed.TotalSeconds * Environment.ProcessorCount);
        return new LoadRun(target.Name, concurrency, perWorker.SelectMany(c => c).ToList(), elapsed, cpuShare);
    }
}

public static class Percentile
{
    /// <summary>Nearest-rank percentile; NaN for no samples.</summary>
    public static double Of(IEnumerable<double> values, double percentile)
    {
        var sorted = values.OrderBy(v => v).ToArray();
        if (sorted.Length == 0) return double.NaN;
        var rank = (int)Math.Ceiling(percentile / 100 * sorted.Length);
        return sorted[Math.Clamp(rank - 1, 0, sorted.Length - 1)];
    }
}
