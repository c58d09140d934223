using System.Collections.Concurrent;
using System.IO.Compression;

namespace OmniGateway.IntegrationTests.Observability;

/// <summary>
/// An OpenTelemetry collector faked on 127.0.0.1:0: a Kestrel app taking OTLP/HTTP protobuf exports on
/// <c>/v1/traces</c> and <c>/v1/metrics</c> and keeping every body exactly as it arrived.
/// </summary>
public sealed class FakeOtlpCollector : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly SemaphoreSlim _received = new(0);

    private FakeOtlpCollector(WebApplication app) => _app = app;

    public Uri BaseUrl { get; private set; } = null!; // set in StartAsync before anyone can read it

    public ConcurrentQueue<byte[]> TraceExports { get; } = new();
    public ConcurrentQueue<byte[]> MetricExports { get; } = new();

    internal IEnumerable<OtlpSpan> Spans => TraceExports.SelectMany(body => OtlpProtobuf.Spans(body));
    internal IEnumerable<string> MetricNames => MetricExports.SelectMany(body => OtlpProtobuf.MetricNames(body));

    public static async Task<FakeOtlpCollector> StartAsync()
    {
        var app = LoopbackApp.Create();
        var collector = new FakeOtlpCollector(app);
        app.MapPost("/v1/traces", context => collector.ReceiveAsync(context, collector.TraceExports));
        app.MapPost("/v1/metrics", context => collector.ReceiveAsync(context, collector.MetricExports));
        collector.BaseUrl = await LoopbackApp.StartAsync(app);
        return collector;
    }

    /// <summary>Waits, export by export, until <paramref name="done"/> holds.</summary>
    public async Task<bool> WaitUntilAsync(Func<bool> done, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (!done())
        {
            var left = deadline - DateTime.UtcNow;
            if (left <= TimeSpan.Zero || !await _received.WaitAsync(left)) return done();
        }
        return true;
    }

    private async Task ReceiveAsync(HttpContext context, ConcurrentQueue<byte[]> exports)
    {
        Stream body = context.Request.Body;
        if (context.Request.Headers.ContentEncoding == "gzip") body = new GZipStream(body, CompressionMode.Decompress);
        using var copy = new MemoryStream();
        await body.CopyToAsync(copy);
        exports.Enqueue(copy.ToArray());
        _received.Release();
        // An empty Export*ServiceResponse: full success.
        context.Response.ContentType = "application/x-protobuf";
    }

    public async ValueTask DisposeAsync()
    {
        await _app.DisposeAsync();
        _received.Dispose();
    }
}
