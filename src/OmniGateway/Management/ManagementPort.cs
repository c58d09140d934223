using Microsoft.Extensions.Options;

namespace OmniGateway.Management;

/// <summary><c>Management:</c> — where operational data (metrics, detailed readiness) is served.</summary>
public sealed class ManagementOptions
{
    public const int DefaultPort = 9464;

    /// <summary>A second Kestrel endpoint for /metrics and detailed /readyz; 0 serves them on the API port (a laptop).</summary>
    public int Port { get; set; } = DefaultPort;
}

/// <summary>Marks an endpoint as operational: served on the management port, and on the API port only when asked.</summary>
public sealed record ManagementEndpoint(bool AlsoOnApiPort);

/// <summary>
/// Operational data is not public: <c>/metrics</c> names every tenant, and detailed readiness the upstream.
/// They listen on <c>Management:Port</c>, which a deployment keeps off the public network; the API port
/// answers 404 for them, and the management port 404 for the API. Which port a request came in on is the
/// connection's local port, never a client-supplied Host header.
/// </summary>
public static class ManagementPort
{
    public static WebApplicationBuilder AddManagementPort(this WebApplicationBuilder builder)
    {
        builder.Services.AddOptions<ManagementOptions>().BindConfiguration("Management")
            .Validate(o => o.Port is >= 0 and <= 65535, "Management:Port must be 0 (serve /metrics and /readyz on the API port) or a TCP port from 1 to 65535.")
            .ValidateOnStart();
        var port = builder.Configuration.GetValue("Management:Port", ManagementOptions.DefaultPort);
        if (port is <= 0 or > 65535) return builder;

        // Kestrel's addresses are the API's (urls, or HTTP_PORTS/HTTPS_PORTS, or its default) plus ours.
        var api = ApiUrls(builder.Configuration);
        if (api.Any(url => url.TrimEnd('/').EndsWith($":{port}", StringComparison.Ordinal)))
            throw new InvalidOperationException($"Management:Port {port} is also an API port. Choose another port, or 0 to serve /metrics and /readyz on the API port.");
        builder.WebHost.UseUrls([.. api, $"http://{Host(api[0])}:{port}"]);
        return builder;
    }

    public static TBuilder OnManagementPort<TBuilder>(this TBuilder endpoint, bool alsoOnApiPort = false) where TBuilder : IEndpointConventionBuilder =>
        endpoint.WithMetadata(new ManagementEndpoint(alsoOnApiPort));

    /// <summary>True when the request may see operational detail: it came in on the management port, or there is none.</summary>
    public static bool IsManagementRequest(HttpContext context)
    {
        var port = context.RequestServices.GetRequiredService<IOptions<ManagementOptions>>().Value.Port;
        return port == 0 || context.Connection.LocalPort == port;
    }

    /// <summary>Routes each endpoint to its port; a request on the wrong one finds no endpoint (404).</summary>
    public static WebApplication UseManagementPort(this WebApplication app)
    {
        var port = app.Services.GetRequiredService<IOptions<ManagementOptions>>().Value.Port;
        if (port == 0) return app;
        app.Use((context, next) =>
        {
            var management = context.GetEndpoint()?.Metadata.GetMetadata<ManagementEndpoint>();
            var allowed = context.Connection.LocalPort == port ? management is not null : management is null || management.AlsoOnApiPort;
            if (!allowed) context.SetEndpoint(null);
            return next(context);
        });
        return app;
    }

    private static string[] ApiUrls(ConfigurationManager configuration)
    {
        static string[] Split(string? value) => value?.Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries) ?? [];
        var urls = Split(configuration[WebHostDefaults.ServerUrlsKey]);
        if (urls.Length > 0) return urls;
        string[] ports = [.. Split(configuration["http_ports"]).Select(p => $"http://*:{p}"), .. Split(configuration["https_ports"]).Select(p => $"https://*:{p}")];
        return ports.Length > 0 ? ports : ["http://localhost:5000"];
    }

    /// <summary>The management endpoint binds where the API does: a laptop's localhost stays local.</summary>
    private static string Host(string url)
    {
        var rest = url[(url.IndexOf("://", StringComparison.Ordinal) is var i and >= 0 ? i + 3 : 0)..];
        rest = rest.Split('/')[0];
        if (rest.StartsWith('[')) return rest[..(rest.IndexOf(']') + 1)];
        var colon = rest.LastIndexOf(':');
        return colon < 0 ? rest : rest[..colon];
    }
}
