namespace OmniGateway.Hosting;

/// <summary>How the host notices an edited appsettings file.</summary>
public static class ConfigurationWatch
{
    /// <summary>Read by every <see cref="Microsoft.Extensions.FileProviders.PhysicalFileProvider"/> when it first watches a file.</summary>
    public const string PollingVariable = "DOTNET_USE_POLLING_FILE_WATCHER";

    /// <summary>
    /// Call before <c>WebApplication.CreateBuilder</c>. By default the host reloads appsettings*.json through
    /// one inotify watch of the whole content root, recursively: every write beneath it — the SQLite ledger
    /// and its WAL live in <c>data/</c> by default — wakes the watcher thread and costs the writing thread an
    /// fsnotify event, per commit (13 % of the gateway's CPU under load, issue 11). Polling the few watched
    /// files every 4 s instead keeps reload-on-change and costs nothing per write, wherever the ledger is.
    /// An operator's own setting of the variable wins.
    /// </summary>
    public static void PollConfigurationFiles()
    {
        if (Environment.GetEnvironmentVariable(PollingVariable) is null) Environment.SetEnvironmentVariable(PollingVariable, "true");
    }
}
