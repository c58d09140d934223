using System.Diagnostics;
using System.Net;
using Microsoft.Extensions.Options;
using OmniGateway.Simulator;

namespace OmniGateway.Proxy;

/// <summary>
/// The one <see cref="HttpMessageInvoker"/> to the upstream, built at start-up as in YARP's direct
/// forwarding sample: <see cref="UpstreamRetryHandler"/> (destination, key, safe retries) over one
/// <see cref="SocketsHttpHandler"/>, whose connection pools are per destination host.
/// </summary>
public sealed class UpstreamClient : IDisposable
{
    public const string SimulatorPrefix = "http://simulator.omnigateway.invalid";

    public UpstreamClient(IOptions<UpstreamOptions> options, IServiceProvider services)
    {
        var upstream = options.Value;
        Mode = upstream.EffectiveMode;
        HttpMessageHandler transport;
        List<UpstreamDestination> destinations;
        if (Mode == UpstreamMode.Simulator)
        {
            transport = services.GetRequiredService<SimulatorHandler>();
            destinations = [new UpstreamDestination(0, SimulatorPrefix, 1, "simulator", key: null)];
        }
        else
        {
            transport = new SocketsHttpHandler
            {
                UseProxy = true,
                AllowAutoRedirect = false,
                AutomaticDecompression = DecompressionMethods.None,
                UseCookies = false,
                ConnectTimeout = upstream.ConnectTimeout,
                EnableMultipleHttp2Connections = true,
                PooledConnectionIdleTimeout = TimeSpan.FromSeconds(60),
                // No trace headers go to the third-party upstream (the header allow-list), but a propagator must be
                // set: with none, SocketsHttpHandler leaves out its diagnostics handler and the upstream call has no span.
                ActivityHeadersPropagator = DistributedContextPropagator.CreateNoOutputPropagator(),
            };
            // A validator guarantees every key in Live mode.
            destinations = upstream.Destinations.Count > 0
                ? [.. upstream.Destinations.Select((d, i) => Destination(i, d.BaseUrl!, d.Weight, d.ResolveKey()!, upstream))]
                : [Destination(0, upstream.BaseUrl, 1, upstream.ResolveKey()!, upstream)];
        }
        var time = services.GetRequiredService<TimeProvider>();
        var metrics = services.GetRequiredService<UpstreamMetrics>();
        var logger = services.GetRequiredService<ILoggerFactory>().CreateLogger("OmniGateway.Upstream");
        Destinations = new UpstreamDestinations(destinations, upstream, time, logger, metrics);
        metrics.Observe(Destinations);
        Keys = [.. destinations.Select(d => d.Key).OfType<string>().Distinct()];
        DestinationPrefix = destinations[0].BaseUrl;
        ResponsesUri = destinations[0].ResponsesUri;
        // The simulator belongs to the container; the socket handler is ours to dispose.
        Invoker = new HttpMessageInvoker(new UpstreamRetryHandler(Destinations, upstream, time, metrics, logger) { InnerHandler = transport },
            disposeHandler: Mode == UpstreamMode.Live);
    }

    public UpstreamMode Mode { get; }

    /// <summary>YARP's destination prefix; the retry handler sets each try's own destination.</summary>
    public string DestinationPrefix { get; }
    public Uri ResponsesUri { get; }
    public HttpMessageInvoker Invoker { get; }
    public UpstreamDestinations Destinations { get; }

    /// <summary>Every upstream key the gateway holds: the one list anything sent back to a client is scrubbed of.</summary>
    internal IReadOnlyList<string> Keys { get; }

    public void Dispose() => Invoker.Dispose();

    private static UpstreamDestination Destination(int index, string baseUrl, int weight, string key, UpstreamOptions upstream) =>
        new(index, baseUrl.TrimEnd('/'), weight, upstream.AuthorizationFormat.Replace("{key}", key, StringComparison.Ordinal), key);
}
