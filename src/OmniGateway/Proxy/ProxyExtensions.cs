using Microsoft.Extensions.DependencyInjection.Extensions;

namespace OmniGateway.Proxy;

public static class ProxyExtensions
{
    public static IHostApplicationBuilder AddUpstreamProxy(this IHostApplicationBuilder builder)
    {
        builder.Services.AddHttpForwarder();
        builder.Services.AddSingleton<ResponsesForwarder>();
        builder.Services.TryAddSingleton(TimeProvider.System);
        return builder;
    }
}
