using OmniGateway.Usage.Storage;

namespace OmniGateway.IntegrationTests.Usage;

/// <summary>
/// <see cref="GatewayFactory"/> over a <see cref="TestStore"/>, with two tenants (alpha, beta) and an admin
/// key. Without an upstream it runs the built-in simulator, which reports usage per request.
/// </summary>
public sealed class LedgerGateway(TestStore store, Uri? upstream = null, IDictionary<string, string?>? settings = null, TimeProvider? time = null,
    Action<IServiceCollection>? services = null)
    : GatewayFactory(upstream, Merge(store.Settings, settings), time, services, LedgerTenants)
{
    public const string AlphaKey = "og-ledger-test-alpha-key-0000000000000000000000";
    public const string BetaKey = "og-ledger-test-beta-key-11111111111111111111111";
    public const string AdminKey = "og-ledger-test-admin-key-2222222222222222222222";
    public const string Model = "qwen3.5-omni-plus-all";

    private static readonly Dictionary<string, string?> LedgerTenants = new()
    {
        ["Gateway:AdminKey"] = AdminKey,
        ["Gateway:Tenants:0:Id"] = "alpha",
        ["Gateway:Tenants:0:KeySha256:0"] = Sha256(AlphaKey),
        ["Gateway:Tenants:1:Id"] = "beta",
        ["Gateway:Tenants:1:KeySha256:0"] = Sha256(BetaKey),
    };

    public LedgerRecords Store => LedgerRecords.Of(Services);

    /// <summary>Settings of a real gateway process over <paramref name="store"/>: tenant alpha, a simulator 4 ms per event, Warning logs.</summary>
    public static Dictionary<string, string?> ProcessSettings(TestStore store) => new(store.Settings)
    {
        ["Gateway:Tenants:0:Id"] = "alpha",
        ["Gateway:Tenants:0:KeySha256:0"] = Sha256(AlphaKey),
        ["Simulator:EventDelay"] = "00:00:00.004",
        ["Serilog:MinimumLevel:Default"] = "Warning",
    };

    /// <summary>A client over real HTTP; a null key sends none.</summary>
    public HttpClient Client(string? key) => CreateClient(key, TimeSpan.FromSeconds(60));

    private static Dictionary<string, string?> Merge(IDictionary<string, string?> store, IDictionary<string, string?>? settings)
    {
        var all = new Dictionary<string, string?>(store) { ["Serilog:MinimumLevel:Default"] = "Warning" };
        foreach (var (key, value) in settings ?? new Dictionary<string, string?>()) all[key] = value;
        return all;
    }
}
