using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;

namespace OmniGateway.Upstream;

public static partial class UpstreamExtensions
{
    /// <summary><c>Upstream:</c> — destinations, keys, retries and the one invoker every call goes through.</summary>
    public static IHostApplicationBuilder AddUpstream(this IHostApplicationBuilder builder)
    {
        builder.Services.AddOptions<UpstreamOptions>().BindConfiguration("Upstream").ValidateOnStart();
        builder.Services.AddSingleton<IValidateOptions<UpstreamOptions>, UpstreamOptionsValidator>();
        builder.Services.AddSingleton<UpstreamMetrics>();
        builder.Services.AddLiveUpstreamTransport();
        builder.Services.AddSingleton<UpstreamClient>();
        builder.Services.TryAddSingleton(TimeProvider.System);
        builder.Services.AddHealthChecks().AddCheck<UpstreamHealthCheck>("upstream", tags: ["ready"]);
        return builder;
    }

    public static void LogUpstreamMode(this WebApplication app)
    {
        var upstream = app.Services.GetRequiredService<UpstreamClient>();
        var logger = app.Services.GetRequiredService<ILoggerFactory>().CreateLogger("OmniGateway.Startup");
        if (upstream.Mode == UpstreamMode.Simulator)
        {
            Log.SimulatorMode(logger);
            return;
        }
        var destinations = string.Join(", ", upstream.Destinations.All.Select(d => $"{d.Index}: {d.BaseUrl} (weight {d.Weight})"));
        Log.LiveMode(logger, destinations);
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 100, Level = LogLevel.Warning,
            Message = "SIMULATOR MODE: no upstream key is configured, so answers come from the built-in simulator, not the real model. Set Upstream:ApiKey (or Upstream:ApiKeyFile) to go live.")]
        public static partial void SimulatorMode(ILogger logger);

        [LoggerMessage(EventId = 101, Level = LogLevel.Information, Message = "Forwarding to the live upstream at {UpstreamBaseUrl}")] // destinations by index, URL and weight; never a key
        public static partial void LiveMode(ILogger logger, string upstreamBaseUrl);
    }
}
