using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;

namespace OmniGateway.Proxy;

public static class ProxyExtensions
{
    public static IHostApplicationBuilder AddUpstreamProxy(this IHostApplicationBuilder builder)
    {
        builder.Services.AddOptions<UpstreamOptions>().BindConfiguration("Upstream").ValidateOnStart();
        builder.Services.AddSingleton<IValidateOptions<UpstreamOptions>, UpstreamOptionsValidator>();
        builder.Services.AddHttpForwarder();
        builder.Services.AddSingleton<UpstreamMetrics>();
        builder.Services.AddLiveUpstreamTransport();
        builder.Services.AddSingleton<UpstreamClient>();
        builder.Services.AddSingleton<ResponsesForwarder>();
        builder.Services.TryAddSingleton(TimeProvider.System);
        return builder;
    }
}
