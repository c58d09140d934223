using Microsoft.Extensions.Options;

namespace OmniGateway.Upstream;

/// <summary>
/// The one <see cref="HttpMessageInvoker"/> to the upstream, built at start-up as in YARP's direct
/// forwarding sample: <see cref="UpstreamRetryHandler"/> (destination, key, safe retries) over the
/// mode's transport (<see cref="UpstreamTransport"/>).
/// </summary>
public sealed class UpstreamClient
{
    public const string SimulatorPrefix = "http://simulator.omnigateway.invalid";

    public UpstreamClient(IOptions<UpstreamOptions> options, IServiceProvider services)
    {
        var upstream = options.Value;
        Mode = upstream.EffectiveMode;
        // The innermost handler is the mode's keyed service: sockets (Live) or the simulator's handler.
        var transport = services.GetRequiredKeyedService<HttpMessageHandler>(Mode);
        // A validator guarantees every key in Live mode.
        List<UpstreamDestination> destinations = Mode == UpstreamMode.Simulator
            ? [new UpstreamDestination(0, SimulatorPrefix, 1, "simulator", key: null)]
            : upstream.Destinations.Count > 0
                ? [.. upstream.Destinations.Select((d, i) => Destination(i, d.BaseUrl!, d.Weight, d.ResolveKey()!, upstream))]
                : [Destination(0, upstream.BaseUrl, 1, upstream.ResolveKey()!, upstream)];
        var time = services.GetRequiredService<TimeProvider>();
        var metrics = services.GetRequiredService<UpstreamMetrics>();
        var logger = services.GetRequiredService<ILoggerFactory>().CreateLogger("OmniGateway.Upstream");
        Destinations = new UpstreamDestinations(destinations, upstream, time, logger, metrics);
        metrics.Observe(Destinations);
        Keys = [.. destinations.Select(d => d.Key).OfType<string>().Distinct()];
        DestinationPrefix = destinations[0].BaseUrl;
        ResponsesUri = destinations[0].ResponsesUri;
        // The transport belongs to the container, which disposes it; the retry handler holds nothing to dispose.
        var retries = new UpstreamRetryHandler(Destinations, upstream, time, metrics, logger) { InnerHandler = transport };
        Invoker = new HttpMessageInvoker(retries, disposeHandler: false);
        _startFirstTry = retries.StartFirstTry;
    }

    private readonly Action<UpstreamCall> _startFirstTry;

    /// <summary>Starts the call's first try while its body still arrives (<see cref="UpstreamCall.Streamed"/>); the invoker's retry loop adopts it.</summary>
    public void StartFirstTry(UpstreamCall call) => _startFirstTry(call);

    public UpstreamMode Mode { get; }

    /// <summary>YARP's destination prefix; the retry handler sets each try's own destination.</summary>
    public string DestinationPrefix { get; }
    public Uri ResponsesUri { get; }
    public HttpMessageInvoker Invoker { get; }
    public UpstreamDestinations Destinations { get; }

    /// <summary>Every upstream key the gateway holds: the one list anything sent back to a client is scrubbed of.</summary>
    internal IReadOnlyList<string> Keys { get; }

    private static UpstreamDestination Destination(int index, string baseUrl, int weight, string key, UpstreamOptions upstream) =>
        new(index, baseUrl.TrimEnd('/'), weight, upstream.AuthorizationFormat.Replace("{key}", key, StringComparison.Ordinal), key);
}
