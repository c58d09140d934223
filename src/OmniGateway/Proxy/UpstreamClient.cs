using System.Diagnostics;
using System.Net;
using Microsoft.Extensions.Options;
using OmniGateway.Simulator;

namespace OmniGateway.Proxy;

/// <summary>
/// The one <see cref="HttpMessageInvoker"/> to the upstream, built at start-up as in YARP's direct
/// forwarding sample. It sits outside any retry handler: a retried POST is a second billed generation.
/// </summary>
public sealed class UpstreamClient : IDisposable
{
    public const string SimulatorPrefix = "http://simulator.omnigateway.invalid";

    public UpstreamClient(IOptions<UpstreamOptions> options, IServiceProvider services)
    {
        var upstream = options.Value;
        Mode = upstream.EffectiveMode;
        if (Mode == UpstreamMode.Simulator)
        {
            DestinationPrefix = SimulatorPrefix;
            Invoker = new HttpMessageInvoker(services.GetRequiredService<SimulatorHandler>(), disposeHandler: false);
            AuthorizationValue = "simulator";
        }
        else
        {
            DestinationPrefix = upstream.BaseUrl.TrimEnd('/');
            Invoker = new HttpMessageInvoker(new SocketsHttpHandler
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
            });
            // A validator guarantees a key in Live mode.
            AuthorizationValue = upstream.AuthorizationFormat.Replace("{key}", upstream.ResolveKey(), StringComparison.Ordinal);
        }
        ResponsesUri = new Uri(DestinationPrefix + "/v1/responses");
        Key = Mode == UpstreamMode.Live ? upstream.ResolveKey() : null;
    }

    public UpstreamMode Mode { get; }
    public string DestinationPrefix { get; }
    public Uri ResponsesUri { get; }
    public HttpMessageInvoker Invoker { get; }

    /// <summary>Sent upstream only; scrubbed from anything the upstream sends back.</summary>
    internal string AuthorizationValue { get; }
    internal string? Key { get; }

    public void Dispose() => Invoker.Dispose();
}
