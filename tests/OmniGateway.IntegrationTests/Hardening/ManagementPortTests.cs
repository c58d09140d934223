using System.Net;
using System.Net.Sockets;
using System.Text.Json;
using OmniGateway.IntegrationTests.Usage;

namespace OmniGateway.IntegrationTests.Hardening;

/// <summary>Issue 9.5: with a management port, operational data is served there and nowhere else (a real process, two ports).</summary>
[Trait("Category", "Slow")]
public sealed class ManagementPortTests
{
    [Fact]
    public async Task MetricsAndDetailedReadiness_AreOnTheManagementPortOnly()
    {
        var folder = Path.Combine(Path.GetTempPath(), "og-mgmt-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(folder);
        try
        {
            var (gateway, managementPort) = await StartWithManagementPortAsync(folder);
            await using var owned = gateway;
            using var api = new HttpClient { BaseAddress = await ApiAddressAsync(gateway, managementPort), Timeout = TimeSpan.FromSeconds(30) };
            using var management = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{managementPort}"), Timeout = TimeSpan.FromSeconds(30) };

            // The API port: no metrics, readiness without detail, liveness as before.
            using (var metrics = await api.GetAsync("/metrics"))
            {
                Assert.Equal(HttpStatusCode.NotFound, metrics.StatusCode);
                Assert.Contains("\"code\":\"not_found\"", await metrics.Content.ReadAsStringAsync(), StringComparison.Ordinal);
            }
            // A Host header naming the management port changes nothing: the connection's port decides.
            using (var spoofed = new HttpRequestMessage(HttpMethod.Get, "/metrics"))
            {
                spoofed.Headers.Host = $"127.0.0.1:{managementPort}";
                using var answer = await api.SendAsync(spoofed);
                Assert.Equal(HttpStatusCode.NotFound, answer.StatusCode);
            }
            var plain = await api.GetStringAsync("/readyz");
            using (var document = JsonDocument.Parse(plain))
            {
                Assert.Equal("healthy", document.RootElement.GetProperty("status").GetString());
                Assert.False(document.RootElement.TryGetProperty("checks", out _), plain);
            }
            Assert.DoesNotContain("SIMULATOR", plain, StringComparison.Ordinal);
            Assert.Equal(HttpStatusCode.OK, (await api.GetAsync("/healthz")).StatusCode);

            // The management port: metrics and the detail, and none of the API.
            Assert.Contains("# TYPE", await management.GetStringAsync("/metrics"), StringComparison.Ordinal);
            Assert.Contains("SIMULATOR", await management.GetStringAsync("/readyz"), StringComparison.Ordinal);
            Assert.Equal(HttpStatusCode.OK, (await management.GetAsync("/healthz")).StatusCode);
            using var models = new HttpRequestMessage(HttpMethod.Get, "/v1/models");
            models.Headers.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", LedgerGateway.AlphaKey);
            Assert.Equal(HttpStatusCode.NotFound, (await management.SendAsync(models)).StatusCode);
            Assert.Equal(HttpStatusCode.NotFound, (await management.GetAsync("/swagger/v1/swagger.json")).StatusCode);
        }
        finally
        {
            Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
            try { Directory.Delete(folder, recursive: true); } catch (IOException) { }
        }
    }

    /// <summary>
    /// The API binds port 0; the management port must be a real one (0 turns it off), so it alone is probed
    /// free — and probed again if another process took it before the gateway bound it.
    /// </summary>
    private static async Task<(ChildProcess Gateway, int ManagementPort)> StartWithManagementPortAsync(string folder)
    {
        for (var attempt = 1; ; attempt++)
        {
            var managementPort = FreePort();
            try
            {
                return (await GatewayProcess.StartAsync(new Dictionary<string, string?>
                {
                    ["Usage:ConnectionString"] = $"Data Source={Path.Combine(folder, "usage.db")}",
                    ["Gateway:Tenants:0:Id"] = "alpha",
                    ["Gateway:Tenants:0:KeySha256:0"] = LedgerGateway.Sha256(LedgerGateway.AlphaKey),
                    ["Management:Port"] = managementPort.ToString(System.Globalization.CultureInfo.InvariantCulture),
                }, folder), managementPort);
            }
            catch (InvalidOperationException exception) when (attempt < 3 && exception.Message.Contains("address already in use", StringComparison.Ordinal))
            {
            }
        }
    }

    /// <summary>The address the gateway printed that is not the management port's.</summary>
    private static async Task<Uri> ApiAddressAsync(ChildProcess gateway, int managementPort)
    {
        for (var i = 0; i < 100; i++)
        {
            if (gateway.Addresses.FirstOrDefault(a => a.Port != managementPort) is { } api) return api;
            await Task.Delay(100);
        }
        throw new InvalidOperationException("The gateway printed no API address:\n" + gateway.LastLines);
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
