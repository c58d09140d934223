using System.Globalization;
using System.Net;
using System.Text;
using OmniGateway.IntegrationTests.Usage;

namespace OmniGateway.IntegrationTests.Hardening;

/// <summary>Issue 9.3: a request body costs what arrives, not what Content-Length claims.</summary>
public sealed class RequestBodyMemoryTests(Xunit.Abstractions.ITestOutputHelper output)
{
    private const string BodyStart = "{\"model\":\"qwen3.5-omni-plus-all\",\"input\":\"";

    [Fact, Trait("Category", "Slow")]
    public async Task EightConnectionsClaiming60MB_AndTrickling1KB_GrowTheGatewayByAFewMBAtMost()
    {
        var folder = Path.Combine(Path.GetTempPath(), "og-body-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(folder);
        try
        {
            await using var gateway = await GatewayProcess.StartAsync(new Dictionary<string, string?>
            {
                ["Usage:ConnectionString"] = $"Data Source={Path.Combine(folder, "usage.db")}",
                ["Gateway:Tenants:0:Id"] = "alpha",
                ["Gateway:Tenants:0:KeySha256:0"] = LedgerGateway.Sha256(LedgerGateway.AlphaKey),
                // Above the claim, so the claim is admitted and only the reader's growth stands between it and memory.
                ["Gateway:MaxRequestBodyBytes"] = (64 * 1024 * 1024).ToString(CultureInfo.InvariantCulture),
                ["Serilog:MinimumLevel:Default"] = "Warning",
            }, folder);
            using var client = new HttpClient { BaseAddress = gateway.BaseUrl, Timeout = TimeSpan.FromSeconds(30) };
            client.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", LedgerGateway.AlphaKey);
            // Warm: the request path is JIT-compiled and its pools exist before the baseline.
            for (var i = 0; i < 3; i++)
            {
                using var warm = await client.PostAsync("/v1/responses", new StringContent(BodyStart + "hi\",\"modalities\":[\"text\"]}", Encoding.UTF8, "application/json"));
                Assert.Equal(HttpStatusCode.OK, warm.StatusCode);
                await warm.Content.ReadAsStringAsync();
            }
            await client.GetStringAsync("/metrics");
            var (allocatedBefore, rssBefore) = (Allocated(await client.GetStringAsync("/metrics")), Rss(gateway.ProcessId));

            var connections = new List<RawHttp>();
            for (var i = 0; i < 8; i++) connections.Add(await RawHttp.PostAsync(gateway.BaseUrl, "/v1/responses", LedgerGateway.AlphaKey, 60_000_000, BodyStart));
            var chunk = Encoding.ASCII.GetBytes(new string('a', 256));
            for (var round = 0; round < 4; round++) // 1 KB each, well inside Kestrel's 5 s minimum-rate grace
            {
                foreach (var connection in connections) await connection.SendAsync(chunk);
                await Task.Delay(250);
            }
            await Task.Delay(500);
            var (allocatedAfter, rssAfter) = (Allocated(await client.GetStringAsync("/metrics")), Rss(gateway.ProcessId));
            foreach (var connection in connections) await connection.DisposeAsync();

            // Before the fix each claim rented a 64 MiB buffer at once: 512 MiB for the eight.
            var allocatedMb = (allocatedAfter - allocatedBefore) / 1048576.0;
            var rssMb = (rssAfter - rssBefore) / 1048576.0;
            output.WriteLine($"eight 60 MB claims, 1 KB sent each: {allocatedMb:F2} MB allocated, RSS {rssMb:+0.0;-0.0} MB");
            Assert.True(allocatedMb < 6, $"the gateway allocated {allocatedMb:F1} MB while eight callers claimed 60 MB and sent 1 KB each");
            Assert.True(rssMb < 12, $"the gateway's resident memory grew {rssMb:F1} MB while eight callers claimed 60 MB and sent 1 KB each");
        }
        finally
        {
            Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
            try { Directory.Delete(folder, recursive: true); } catch (IOException) { }
        }
    }

    /// <summary>Bytes the process has allocated since it started (System.Runtime's dotnet.gc.heap.total_allocated).</summary>
    private static double Allocated(string metrics)
    {
        var line = metrics.Split('\n').FirstOrDefault(l => l.StartsWith("dotnet_gc_heap_total_allocated", StringComparison.Ordinal))
                   ?? throw new InvalidOperationException("No dotnet_gc_heap_total_allocated in /metrics:\n" + metrics[..Math.Min(2000, metrics.Length)]);
        return double.Parse(line[(line.LastIndexOf(' ') + 1)..], CultureInfo.InvariantCulture);
    }

    private static long Rss(int pid)
    {
        var line = File.ReadLines($"/proc/{pid}/status").First(l => l.StartsWith("VmRSS:", StringComparison.Ordinal));
        return long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture) * 1024;
    }
}

/// <summary>Issue 9.3 in process: the default cap refuses a 60 MB claim unread; the gateway-wide buffer budget answers 503.</summary>
public sealed class RequestBufferBudgetTests : GatewayTest
{
    protected override IDictionary<string, string?>? Settings => new Dictionary<string, string?>
    {
        ["Gateway:MaxRequestBodyBytes"] = (48 * 1024).ToString(CultureInfo.InvariantCulture),
        // The least the gateway may hold (what one 48 KiB body holds while it grows: 32 KiB and the next 48 KiB + 1).
        ["Gateway:MaxBufferedRequestBytes"] = OmniGateway.Validation.RequestBodyReader.MostHeld(48 * 1024, streamed: false).ToString(CultureInfo.InvariantCulture),
    };

    [Fact]
    public async Task BodiesPastTheGatewayWideBudget_Get503ServerBusy_WithRetryAfter_AndNothingReachesTheUpstream()
    {
        var baseUrl = Client.BaseAddress!;
        var filler = Encoding.ASCII.GetBytes(new string('a', 20 * 1024));
        // A and B hold 32 KiB each (their buffers doubled once) and wait; C's second buffer would pass the 80 KiB budget.
        var budget = Gateway.Services.GetRequiredService<OmniGateway.Validation.RequestBufferBudget>();
        await using var a = await RawHttp.PostAsync(baseUrl, "/v1/responses", GatewayFactory.TenantKey, 40 * 1024, "{\"model\":\"qwen3.5-omni-plus-all\",\"input\":\"");
        await a.SendAsync(filler);
        // Until the gateway holds A's doubled buffer (a fixed wait lost the race on a loaded machine), then B's.
        for (var waited = 0; budget.Buffered < 32 * 1024 && waited < 200; waited++) await Task.Delay(50);
        await using var b = await RawHttp.PostAsync(baseUrl, "/v1/responses", GatewayFactory.TenantKey, 40 * 1024, "{\"model\":\"qwen3.5-omni-plus-all\",\"input\":\"");
        await b.SendAsync(filler);
        for (var waited = 0; budget.Buffered < 64 * 1024 && waited < 200; waited++) await Task.Delay(50);
        await using var c = await RawHttp.PostAsync(baseUrl, "/v1/responses", GatewayFactory.TenantKey, 40 * 1024, "{\"model\":\"qwen3.5-omni-plus-all\",\"input\":\"");
        await c.SendAsync(filler);

        var (status, head) = await c.ReadAnswerAsync(TimeSpan.FromSeconds(20));
        Assert.Equal(503, status);
        Assert.Contains("Retry-After: ", head, StringComparison.OrdinalIgnoreCase);
        Assert.Contains("\"code\":\"server_busy\"", head, StringComparison.Ordinal);
        Assert.Empty(Upstream.Requests);
    }

    [Fact]
    public async Task AClaimAboveTheDefaultCap_Is413_BeforeAByteOfBodyIsRead()
    {
        await using var gateway = new GatewayFactory(Upstream.BaseUrl);
        using var client = gateway.CreateTenantClient();
        await using var claim = await RawHttp.PostAsync(client.BaseAddress!, "/v1/responses", GatewayFactory.TenantKey, 60_000_000, "");
        var (status, head) = await claim.ReadAnswerAsync(TimeSpan.FromSeconds(20));
        Assert.Equal(413, status);
        Assert.Contains("16777216 bytes", head, StringComparison.Ordinal);
    }
}

/// <summary>
/// One tenant's bodies hold at most its share of the buffer budget (Gateway:MaxBufferedRequestBytesPerTenant): a tenant that
/// keeps bodies open gets 429 itself, and another tenant's call still goes through, where before it got the gateway's 503.
/// </summary>
public sealed class TenantBufferShareTests : GatewayTest
{
    private const string BodyStart = "{\"model\":\"qwen3.5-omni-plus-all\",\"input\":\"";

    protected override IDictionary<string, string?>? Settings => new Dictionary<string, string?>
    {
        ["Gateway:MaxRequestBodyBytes"] = (48 * 1024).ToString(CultureInfo.InvariantCulture),
        ["Gateway:MaxBufferedRequestBytes"] = (256 * 1024).ToString(CultureInfo.InvariantCulture),
        // Two bodies holding 32 KiB each, the second's growth briefly holding its old 16 KiB buffer too: 80 KiB. The least a
        // share may be: what one 48 KiB body holds while it grows (32 KiB and the next 48 KiB + 1).
        ["Gateway:MaxBufferedRequestBytesPerTenant"] = OmniGateway.Validation.RequestBodyReader.MostHeld(48 * 1024, streamed: false).ToString(CultureInfo.InvariantCulture),
        ["Gateway:Tenants:1:AllowedModels:0"] = "qwen3.5-omni-plus-all", // tenant "other" may call the model too
    };

    [Fact]
    public async Task ATenantHoldingItsShare_Gets429ForItsNextBody_WhileAnotherTenantsCallGoesThrough()
    {
        var baseUrl = Client.BaseAddress!;
        var filler = Encoding.ASCII.GetBytes(new string('a', 20 * 1024));
        var budget = Gateway.Services.GetRequiredService<OmniGateway.Validation.RequestBufferBudget>();
        // Two bodies of tenant "web", each holding 32 KiB (its buffer doubled once) and waiting: its share has no room for
        // a third body's growth.
        await using var first = await RawHttp.PostAsync(baseUrl, "/v1/responses", GatewayFactory.TenantKey, 40 * 1024, BodyStart);
        await first.SendAsync(filler);
        await HeldAsync(budget, 32 * 1024); // one after the other: two growths at once would not fit the share together
        await using var second = await RawHttp.PostAsync(baseUrl, "/v1/responses", GatewayFactory.TenantKey, 40 * 1024, BodyStart);
        await second.SendAsync(filler);
        await HeldAsync(budget, 64 * 1024);

        await using var third = await RawHttp.PostAsync(baseUrl, "/v1/responses", GatewayFactory.TenantKey, 40 * 1024, BodyStart);
        await third.SendAsync(filler); // 16 KiB fit; growing to 32 does not
        var (status, head) = await third.ReadAnswerAsync(TimeSpan.FromSeconds(20));
        Assert.Equal(429, status);
        Assert.Contains("\"code\":\"too_many_request_bodies\"", head, StringComparison.Ordinal);
        Assert.Contains("Gateway:MaxBufferedRequestBytesPerTenant", head, StringComparison.Ordinal);
        Assert.Contains("Retry-After: ", head, StringComparison.OrdinalIgnoreCase);

        // The gateway-wide budget has room for the other tenant, whose own share is untouched.
        using var other = Gateway.CreateTenantClient(GatewayFactory.RestrictedKey);
        using var answer = await other.PostAsync("/v1/responses", new StringContent(BodyStart + "hi\",\"modalities\":[\"text\"]}", Encoding.UTF8, "application/json"));
        Assert.Equal(System.Net.HttpStatusCode.OK, answer.StatusCode);
        await answer.Content.ReadAsStringAsync();

        // Both held bodies given up: every byte of the share comes back, and the gateway-wide budget with it.
        await first.DisposeAsync();
        await second.DisposeAsync();
        for (var waited = 0; budget.Buffered > 0 && waited < 200; waited++) await Task.Delay(50);
        Assert.Equal((0L, 0L), (budget.Buffered, budget.ForTenant("web").Buffered));
    }

    private static async Task HeldAsync(OmniGateway.Validation.RequestBufferBudget budget, long bytes)
    {
        for (var waited = 0; budget.ForTenant("web").Buffered != bytes && waited < 200; waited++) await Task.Delay(50);
        Assert.Equal(bytes, budget.ForTenant("web").Buffered);
    }

    [Theory]
    [InlineData("1024")]      // below Gateway:MaxRequestBodyBytes: no body of the largest size could be read
    [InlineData("16777216")]  // Gateway:MaxRequestBodyBytes itself: a streamed body of that size holds ~22 MiB while it arrives
    [InlineData("536870912")] // above Gateway:MaxBufferedRequestBytes
    public void AShareOutsideItsBounds_StopsStartUp_NamingTheKey(string share)
    {
        var options = new Microsoft.Extensions.Configuration.ConfigurationBuilder()
            .AddInMemoryCollection(new Dictionary<string, string?> { ["Gateway:MaxBufferedRequestBytesPerTenant"] = share }).Build()
            .GetSection("Gateway").Get<OmniGateway.Tenants.GatewayOptions>()!;

        var result = new OmniGateway.Tenants.GatewayOptionsValidator().Validate(null, options);

        Assert.True(result.Failed);
        Assert.Contains(result.Failures!, f => f.Contains("Gateway:MaxBufferedRequestBytesPerTenant must be at least", StringComparison.Ordinal));
    }

    [Fact]
    public void UnsetShare_IsAQuarterOfTheBudget_ButAlwaysRoomForOneLargestBody()
    {
        Assert.Equal(64L * 1024 * 1024, OmniGateway.Validation.RequestBufferBudget.TenantShareOf(new OmniGateway.Tenants.GatewayOptions()));
        // A quarter of 32 MiB is less than one 16 MiB streamed body holds: 16 KiB doubling to 1 MiB, then 4 MiB, then 16 MiB + 1.
        var largest = 2L * 1024 * 1024 - 16 * 1024 + 4L * 1024 * 1024 + 16L * 1024 * 1024 + 1;
        Assert.Equal(largest, OmniGateway.Validation.RequestBufferBudget.TenantShareOf(
            new OmniGateway.Tenants.GatewayOptions { MaxBufferedRequestBytes = 32L * 1024 * 1024 }));
    }
}
