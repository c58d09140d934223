using System.Diagnostics;

namespace OmniGateway.Testing;

/// <summary>
/// The gateway as a real process (<c>dotnet OmniGateway.dll</c>, as the solution build left it), configured by
/// environment variables, on a port of its own choosing: a test can kill it with SIGKILL and start it again
/// on the same store, and the bench measures it as operators run it.
/// </summary>
public static class GatewayProcess
{
    /// <param name="settings">Configuration keys (<c>Usage:ConnectionString</c>), passed as environment variables.</param>
    /// <param name="dll">Another build's OmniGateway.dll (the bench's A/B baseline); default the solution's.</param>
    public static Task<ChildProcess> StartAsync(IDictionary<string, string?> settings, string workingDirectory, string? dll = null)
    {
        // src/OmniGateway's own build output: it carries its runtimeconfig.
        var start = new ProcessStartInfo("dotnet") { WorkingDirectory = workingDirectory };
        foreach (var arg in new[] { dll ?? BuildOutput.Dll("src/OmniGateway", "OmniGateway.dll"), "--urls", "http://127.0.0.1:0" }) start.ArgumentList.Add(arg);
        start.Environment["ASPNETCORE_ENVIRONMENT"] = "Production";
        // Parallel gateways must not all bind the default management port; a test that wants it split sets it.
        start.Environment["Management__Port"] = "0";
        foreach (var (key, value) in settings) start.Environment[key.Replace(":", "__", StringComparison.Ordinal)] = value;
        // Kestrel's "Now listening on" line is how the caller learns the port, whatever level the rest logs at.
        start.Environment["Serilog__MinimumLevel__Override__Microsoft.Hosting.Lifetime"] = "Information";
        return ChildProcess.StartAsync("gateway", start, "/healthz");
    }
}
