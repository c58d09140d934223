using OmniGateway.Upstream;

namespace OmniGateway.Simulator;

public static class SimulatorExtensions
{
    /// <summary>Always registered (cheap); used only when <c>Upstream:Mode</c> resolves to Simulator.</summary>
    public static IHostApplicationBuilder AddSimulator(this IHostApplicationBuilder builder)
    {
        builder.Services.AddOptions<SimulatorOptions>().BindConfiguration("Simulator");
        // The upstream call's innermost handler in Simulator mode (see UpstreamTransport).
        builder.Services.AddKeyedSingleton<HttpMessageHandler, SimulatorHandler>(UpstreamMode.Simulator);
        return builder;
    }
}
