using System.Security.Cryptography;
using System.Text;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace OmniGateway.IntegrationTests;

/// <summary>
/// The gateway on a real Kestrel port, pointed at a <see cref="FakeUpstream"/> (or at nothing, for
/// simulator mode). Tenant <c>web</c> holds <see cref="TenantKey"/>; tenant <c>other</c> may use no model.
/// </summary>
public sealed class GatewayFactory : WebApplicationFactory<Program>
{
    public const string TenantKey = "og-test-tenant-key-aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
    public const string RestrictedKey = "og-test-restricted-key-bbbbbbbbbbbbbbbbbbbbbbbbbbbb";
    public const string UpstreamKey = "sk-upstream-server-secret-0123456789abcdef";

    private readonly Dictionary<string, string?> _settings;
    private readonly string _dataDirectory = Path.Combine(Path.GetTempPath(), "omnigateway-tests", Guid.NewGuid().ToString("N"));

    public GatewayFactory(Uri? upstream, IDictionary<string, string?>? settings = null)
    {
        _settings = new Dictionary<string, string?>
        {
            ["Gateway:Tenants:0:Id"] = "web",
            ["Gateway:Tenants:0:KeySha256:0"] = Sha256(TenantKey),
            ["Gateway:Tenants:1:Id"] = "other",
            ["Gateway:Tenants:1:KeySha256:0"] = Sha256(RestrictedKey),
            ["Gateway:Tenants:1:AllowedModels:0"] = "some-other-model",
            ["Upstream:FirstByteTimeout"] = "00:00:10",
            ["Upstream:IdleTimeout"] = "00:00:10",
            ["Simulator:EventDelay"] = "00:00:00.001",
            ["Serilog:MinimumLevel:Default"] = "Information",
            // A usage store of its own per gateway: parallel test classes must not see each other's records.
            ["Usage:ConnectionString"] = $"Data Source={Path.Combine(_dataDirectory, "usage.db")}",
            ["Logging:Format"] = "Text",
            // WebApplicationFactory binds one Kestrel address of its own choosing, so operational endpoints share it;
            // the split ports are tested on a real process (Hardening/ManagementPortTests).
            ["Management:Port"] = "0",
        };
        if (upstream is not null)
        {
            _settings["Upstream:BaseUrl"] = upstream.ToString().TrimEnd('/');
            _settings["Upstream:ApiKey"] = UpstreamKey;
        }
        foreach (var (key, value) in settings ?? new Dictionary<string, string?>()) _settings[key] = value;
        UseKestrel(0);
    }

    public override async ValueTask DisposeAsync()
    {
        await base.DisposeAsync();
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        try { Directory.Delete(_dataDirectory, recursive: true); } catch (IOException) { }
    }

    public static string Sha256(string key) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(key)));

    public LogCapture Logs { get; } = new();

    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        // Not Development: its appsettings file seeds a local demo tenant the tests must not depend on.
        builder.UseEnvironment("Testing");
        foreach (var (key, value) in _settings) builder.UseSetting(key, value);
        builder.ConfigureServices(services => services.AddSingleton<ILoggerProvider>(Logs));
    }

    /// <summary>A client over real HTTP with the tenant key as an OpenAI SDK sends it.</summary>
    public HttpClient CreateTenantClient(string key = TenantKey)
    {
        StartServer();
        var client = CreateClient();
        client.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", key);
        client.Timeout = TimeSpan.FromSeconds(30);
        return client;
    }
}
