using System.Net.Http.Headers;
using System.Security.Cryptography;
using System.Text;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.Logging.Testing;

namespace OmniGateway.IntegrationTests;

/// <summary>
/// The one in-process gateway of the suite: on a real Kestrel port, pointed at a <see cref="FakeUpstream"/>
/// (or at nothing, for simulator mode), with its own usage store, its log events in <see cref="Logs"/>.
/// By default tenant <c>web</c> holds <see cref="TenantKey"/> and tenant <c>other</c> may use no model;
/// <c>tenants</c> replaces that set (the ledger tests' <see cref="Usage.LedgerGateway"/> does).
/// </summary>
public class GatewayFactory : WebApplicationFactory<Program>
{
    public const string TenantKey = "og-test-tenant-key-aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
    public const string RestrictedKey = "og-test-restricted-key-bbbbbbbbbbbbbbbbbbbbbbbbbbbb";
    public const string UpstreamKey = "sk-upstream-server-secret-0123456789abcdef";

    /// <summary>Tenant <c>web</c> (<see cref="TenantKey"/>, every model) and <c>other</c> (<see cref="RestrictedKey"/>, no model of ours).</summary>
    public static IReadOnlyDictionary<string, string?> DefaultTenants { get; } = new Dictionary<string, string?>
    {
        ["Gateway:Tenants:0:Id"] = "web",
        ["Gateway:Tenants:0:KeySha256:0"] = Sha256(TenantKey),
        ["Gateway:Tenants:1:Id"] = "other",
        ["Gateway:Tenants:1:KeySha256:0"] = Sha256(RestrictedKey),
        ["Gateway:Tenants:1:AllowedModels:0"] = "some-other-model",
    };

    private readonly Dictionary<string, string?> _settings;
    private readonly TimeProvider? _time;
    private readonly Action<IServiceCollection>? _services;
    private readonly string _dataDirectory = Path.Combine(Path.GetTempPath(), "omnigateway-tests", Guid.NewGuid().ToString("N"));

    /// <param name="upstream">The fake upstream; null runs the built-in simulator.</param>
    /// <param name="settings">Configuration on top of the defaults (last wins).</param>
    /// <param name="time">Replaces the gateway's <see cref="TimeProvider"/> (a <c>FakeTimeProvider</c>, say).</param>
    /// <param name="services">Service replacements, applied after the gateway's own registrations.</param>
    /// <param name="tenants">The tenant set; default <see cref="DefaultTenants"/>.</param>
    public GatewayFactory(Uri? upstream, IDictionary<string, string?>? settings = null, TimeProvider? time = null,
        Action<IServiceCollection>? services = null, IReadOnlyDictionary<string, string?>? tenants = null)
    {
        (_time, _services) = (time, services);
        _settings = new Dictionary<string, string?>(tenants ?? DefaultTenants)
        {
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

    /// <summary>
    /// Settings for the gateway as its own process (<c>GatewayProcess</c>): tenant <c>web</c> (<see cref="TenantKey"/>)
    /// against <paramref name="upstream"/>, its ledger in <paramref name="workingDirectory"/>; add a test's own on top.
    /// </summary>
    public static Dictionary<string, string?> ProcessSettings(FakeUpstream upstream, string workingDirectory) => new()
    {
        ["Gateway:Tenants:0:Id"] = "web",
        ["Gateway:Tenants:0:KeySha256:0"] = Sha256(TenantKey),
        ["Upstream:BaseUrl"] = upstream.BaseUrl.ToString().TrimEnd('/'),
        ["Upstream:ApiKey"] = UpstreamKey,
        ["Usage:ConnectionString"] = $"Data Source={Path.Combine(workingDirectory, "usage.db")}",
    };

    /// <summary>Every log event the gateway wrote (Serilog hands each to the logger providers too).</summary>
    public FakeLogCollector Logs => Services.GetFakeLogCollector();

    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        // Not Development: its appsettings file seeds a local demo tenant the tests must not depend on.
        builder.UseEnvironment("Testing");
        foreach (var (key, value) in _settings) builder.UseSetting(key, value);
        builder.ConfigureTestServices(services =>
        {
            services.AddFakeLogging();
            if (_time is not null) services.AddSingleton(_time);
            _services?.Invoke(services);
        });
    }

    /// <summary>A client over real HTTP with the tenant key as an OpenAI SDK sends it.</summary>
    public HttpClient CreateTenantClient(string key = TenantKey) => CreateClient(key, TimeSpan.FromSeconds(30));

    /// <summary>A client over real HTTP; a null key sends none.</summary>
    public HttpClient CreateClient(string? key, TimeSpan timeout)
    {
        StartServer();
        var client = CreateClient();
        if (key is not null) client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", key);
        client.Timeout = timeout;
        return client;
    }
}
