using System.Diagnostics;
using System.Net;
using Microsoft.Extensions.Options;
using OmniGateway.Observability;

namespace OmniGateway.Upstream;

/// <summary>
/// The innermost handler of the upstream call, one per <see cref="UpstreamMode"/> as a keyed service: here
/// the live one, a <see cref="SocketsHttpHandler"/> whose connection pools are per destination host; the
/// simulator registers its own under <see cref="UpstreamMode.Simulator"/>. The container owns (and disposes) it.
/// </summary>
public static class UpstreamTransport
{
    public static IServiceCollection AddLiveUpstreamTransport(this IServiceCollection services) =>
        services.AddKeyedSingleton<HttpMessageHandler>(UpstreamMode.Live, static (services, _) =>
        {
            var upstream = services.GetRequiredService<IOptions<UpstreamOptions>>().Value;
            var traced = TelemetryExtensions.TracesExported(services.GetRequiredService<IConfiguration>());
            return new SocketsHttpHandler
            {
                UseProxy = true,
                AllowAutoRedirect = false,
                AutomaticDecompression = DecompressionMethods.None,
                UseCookies = false,
                ConnectTimeout = upstream.ConnectTimeout,
                EnableMultipleHttp2Connections = true,
                PooledConnectionIdleTimeout = TimeSpan.FromSeconds(60),
                // No trace headers go to the third-party upstream (the header allow-list). With traces exported a
                // propagator must be set: with none, SocketsHttpHandler leaves out its diagnostics handler and the
                // upstream call has no span. Without, that handler would start (and drop) an activity per call.
                ActivityHeadersPropagator = traced ? DistributedContextPropagator.CreateNoOutputPropagator() : null,
            };
        });
}
