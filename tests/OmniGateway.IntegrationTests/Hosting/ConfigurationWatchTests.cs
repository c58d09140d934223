using OmniGateway.IntegrationTests.Usage;

namespace OmniGateway.IntegrationTests.Hosting;

/// <summary>
/// appsettings files reload on change by polling: an inotify watch of the content root is recursive,
/// and every ledger commit beneath it (data/ by default) would wake it (issue 11). Checked on a real
/// process, since WebApplicationFactory turns configuration reloading off.
/// </summary>
[Trait("Category", "Slow")]
public sealed class ConfigurationWatchTests
{
    [Fact]
    public async Task TheGateway_HoldsNoInotifyWatch_OnTheContentRootItsLedgerLivesIn()
    {
        if (!OperatingSystem.IsLinux()) return; // inotify and /proc are Linux's; CI runs Debian
        var contentRoot = Directory.CreateTempSubdirectory("og-watch-");
        try
        {
            var settings = new Dictionary<string, string?>
            {
                ["Gateway:Tenants:0:Id"] = "alpha",
                ["Gateway:Tenants:0:KeySha256:0"] = LedgerGateway.Sha256(LedgerGateway.AlphaKey),
                ["Serilog:MinimumLevel:Default"] = "Warning",
            };
            await using var gateway = await GatewayProcess.StartAsync(settings, contentRoot.FullName);
            Assert.True(File.Exists(Path.Combine(contentRoot.FullName, "data", "omnigateway.db")), "the default ledger is not under the content root");

            var watches = Directory.GetFiles($"/proc/{gateway.ProcessId}/fd")
                .Where(fd => new FileInfo(fd).LinkTarget?.Contains("inotify", StringComparison.Ordinal) == true)
                .Sum(fd => File.ReadLines($"/proc/{gateway.ProcessId}/fdinfo/{Path.GetFileName(fd)}").Count(l => l.StartsWith("inotify ", StringComparison.Ordinal)));
            Assert.Equal(0, watches);
        }
        finally
        {
            contentRoot.Delete(recursive: true);
        }
    }
}
