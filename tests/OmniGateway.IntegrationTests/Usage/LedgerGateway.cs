using System.Net.Http.Headers;
using System.Security.Cryptography;
using System.Text;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.DependencyInjection;
using OmniGateway.Usage.Storage;

namespace OmniGateway.IntegrationTests.Usage;

/// <summary>
/// The gateway on a real Kestrel port over a <see cref="TestStore"/>, with two tenants (alpha, beta) and
/// an admin key. Without an upstream it runs the built-in simulator, which reports usage per request.
/// </summary>
public sealed class LedgerGateway : WebApplicationFactory<Program>
{
    public const string AlphaKey = "og-ledger-test-alpha-key-0000000000000000000000";
    public const string BetaKey = "og-ledger-test-beta-key-11111111111111111111111";
    public const string AdminKey = "og-ledger-test-admin-key-2222222222222222222222";
    public const string Model = "qwen3.5-omni-plus-all";

    private readonly Dictionary<string, string?> _settings;
    private readonly TimeProvider? _time;
    private readonly Action<IServiceCollection>? _services;

    public LedgerGateway(TestStore store, Uri? upstream = null, IDictionary<string, string?>? settings = null, TimeProvider? time = null,
        Action<IServiceCollection>? services = null)
    {
        (_time, _services) = (time, services);
        _settings = new Dictionary<string, string?>(store.Settings)
        {
            ["Gateway:AdminKey"] = AdminKey,
            ["Gateway:Tenants:0:Id"] = "alpha",
            ["Gateway:Tenants:0:KeySha256:0"] = Sha256(AlphaKey),
            ["Gateway:Tenants:1:Id"] = "beta",
            ["Gateway:Tenants:1:KeySha256:0"] = Sha256(BetaKey),
            ["Upstream:FirstByteTimeout"] = "00:00:10",
            ["Upstream:IdleTimeout"] = "00:00:10",
            ["Simulator:EventDelay"] = "00:00:00.001",
            ["Serilog:MinimumLevel:Default"] = "Warning",
            ["Management:Port"] = "0", // one Kestrel address under WebApplicationFactory; see GatewayFactory
        };
        if (upstream is not null)
        {
            _settings["Upstream:BaseUrl"] = upstream.ToString().TrimEnd('/');
            _settings["Upstream:ApiKey"] = "sk-ledger-test-upstream-key";
        }
        foreach (var (key, value) in settings ?? new Dictionary<string, string?>()) _settings[key] = value;
        UseKestrel(0);
    }

    public static string Sha256(string key) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(key)));

    public SqlUsageStore Store => Services.GetRequiredService<SqlUsageStore>();

    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        foreach (var (key, value) in _settings) builder.UseSetting(key, value);
        if (_time is not null) builder.ConfigureTestServices(services => services.AddSingleton(_time));
        if (_services is not null) builder.ConfigureTestServices(_services);
    }

    public HttpClient Client(string? key)
    {
        StartServer();
        var client = CreateClient();
        if (key is not null) client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", key);
        client.Timeout = TimeSpan.FromSeconds(60);
        return client;
    }
}
