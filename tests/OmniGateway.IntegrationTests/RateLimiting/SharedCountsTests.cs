using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;

namespace OmniGateway.IntegrationTests.RateLimiting;

/// <summary>
/// <c>RateLimiting:Provider=Redis</c> with a real redis-server and two gateway instances in front of one
/// upstream: the counts are shared, a stream slot is freed across instances, and a Redis that dies
/// leaves both serving (fail-open) and saying so.
/// </summary>
public sealed class SharedCountsTests : IAsyncLifetime
{
    private FakeUpstream _upstream = null!; // set in InitializeAsync
    private readonly List<GatewayFactory> _gateways = [];

    public async Task InitializeAsync() => _upstream = await FakeUpstream.StartAsync();

    public async Task DisposeAsync()
    {
        foreach (var gateway in _gateways) await gateway.DisposeAsync();
        await _upstream.DisposeAsync();
    }

    private (HttpClient A, HttpClient B) TwoInstances(string redis, IDictionary<string, string?> limits)
    {
        var prefix = $"test-{Guid.NewGuid():N}:"; // the shared test server holds other tests' counts too
        for (var i = 0; i < 2; i++)
        {
            var settings = new Dictionary<string, string?>(limits)
            {
                ["RateLimiting:Provider"] = "Redis",
                ["RateLimiting:RedisKeyPrefix"] = prefix,
                ["ConnectionStrings:Redis"] = $"{redis},connectTimeout=1000,asyncTimeout=1000,syncTimeout=1000",
            };
            _gateways.Add(new GatewayFactory(_upstream.BaseUrl, settings));
        }
        return (_gateways[^2].CreateTenantClient(), _gateways[^1].CreateTenantClient());
    }

    private static StringContent Body() =>
        new("""{"model":"qwen3.5-omni-plus-all","input":"Hi","stream":true,"modalities":["text"]}""", Encoding.UTF8, "application/json");

    private static async Task<(HttpStatusCode Status, string Body)> CallAsync(HttpClient client)
    {
        using var response = await client.PostAsync("/v1/responses", Body());
        return (response.StatusCode, await response.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task TwoInstances_ShareOneRequestsPerMinuteCount()
    {
        await using var redis = await RedisServer.SharedOrOwnAsync();
        _upstream.Respond = context => FakeUpstream.ModelAsync(context, wantedOutputTokens: 10, TimeSpan.Zero);
        var (a, b) = TwoInstances(redis.Address, new Dictionary<string, string?> { ["Gateway:Tenants:0:Limits:RequestsPerMinute"] = "3" });

        var statuses = new List<HttpStatusCode>();
        foreach (var client in new[] { a, b, a, b, a, b }) statuses.Add((await CallAsync(client)).Status);

        // Per instance, each would have allowed three: six of six. Shared: three, then 429 on either instance.
        Assert.Equal([HttpStatusCode.OK, HttpStatusCode.OK, HttpStatusCode.OK, HttpStatusCode.TooManyRequests, HttpStatusCode.TooManyRequests,
            HttpStatusCode.TooManyRequests], statuses);
        var refused = await CallAsync(a);
        Assert.Contains("requests_per_minute_exceeded", refused.Body, StringComparison.Ordinal);
    }

    [Fact]
    public async Task StreamSlotHeldOnOneInstance_RefusesTheOther_AndIsFreedWhenTheStreamEnds()
    {
        await using var redis = await RedisServer.SharedOrOwnAsync();
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        _upstream.Respond = async context =>
        {
            await release.Task.WaitAsync(TimeSpan.FromSeconds(20));
            await FakeUpstream.ModelAsync(context, wantedOutputTokens: 10, TimeSpan.Zero);
        };
        var (a, b) = TwoInstances(redis.Address, new Dictionary<string, string?> { ["Gateway:Tenants:0:Limits:ConcurrentStreams"] = "1" });

        var open = CallAsync(a);
        while (_upstream.Requests.IsEmpty) await Task.Delay(10);
        var refused = await CallAsync(b);
        Assert.Equal(HttpStatusCode.TooManyRequests, refused.Status);
        Assert.Contains("concurrent_streams_exceeded", refused.Body, StringComparison.Ordinal);

        release.SetResult();
        Assert.Equal(HttpStatusCode.OK, (await open).Status);
        Assert.Equal(HttpStatusCode.OK, (await CallAsync(b)).Status);
    }

    [Fact, Trait("Category", "Slow")]
    public async Task RedisKilledMidTest_BothInstancesKeepServing_AndSaySo()
    {
        var redis = await RedisServer.StartOwnAsync(); // killed below: never the suite's shared server
        _upstream.Respond = context => FakeUpstream.ModelAsync(context, wantedOutputTokens: 10, TimeSpan.Zero);
        var (a, b) = TwoInstances(redis.Address, new Dictionary<string, string?> { ["Gateway:Tenants:0:Limits:RequestsPerMinute"] = "100" });
        Assert.Equal(HttpStatusCode.OK, (await CallAsync(a)).Status);
        Assert.Equal(HttpStatusCode.OK, (await CallAsync(b)).Status);

        await redis.DisposeAsync();

        foreach (var client in new[] { a, b, a, b }) Assert.Equal(HttpStatusCode.OK, (await CallAsync(client)).Status);
        foreach (var (gateway, client) in _gateways.Zip(new[] { a, b }))
        {
            using var ready = await client.GetAsync("/readyz");
            var text = await ready.Content.ReadAsStringAsync();
            Assert.True(ready.IsSuccessStatusCode, text); // degraded, still in the load balancer
            Assert.Contains("Redis is unreachable", text, StringComparison.Ordinal);
            Assert.Single(gateway.Logs.GetSnapshot(), e => e.Id.Id == 6100); // one log line, not one per call
        }
    }
}

/// <summary>A real redis-server: the suite's (<c>OMNIGATEWAY_TEST_REDIS</c>, from tests/scripts/start-redis.sh) or one of the test's own.</summary>
public sealed class RedisServer : IAsyncDisposable
{
    private readonly Process? _process;

    private RedisServer(string address, Process? process) => (Address, _process) = (address, process);

    public string Address { get; }

    public static Task<RedisServer> SharedOrOwnAsync() =>
        Environment.GetEnvironmentVariable("OMNIGATEWAY_TEST_REDIS") is { Length: > 0 } shared
            ? Task.FromResult(new RedisServer(shared, null))
            : StartOwnAsync();

    public static async Task<RedisServer> StartOwnAsync()
    {
        var binary = Environment.GetEnvironmentVariable("OMNIGATEWAY_REDIS_BIN") is { Length: > 0 } configured ? configured : "redis-server";
        int port;
        using (var probe = new TcpListener(IPAddress.Loopback, 0))
        {
            probe.Start();
            port = ((IPEndPoint)probe.LocalEndpoint).Port;
        }
        Process process;
        try
        {
            process = Process.Start(new ProcessStartInfo(binary, $"--port {port} --bind 127.0.0.1 --save \"\" --appendonly no")
            {
                RedirectStandardOutput = true,
                UseShellExecute = false,
            })!;
        }
        catch (System.ComponentModel.Win32Exception exception)
        {
            throw new InvalidOperationException("redis-server is not installed: run ./test.sh (it installs it) or apt-get install redis-server.", exception);
        }
        process.OutputDataReceived += (_, _) => { };
        process.BeginOutputReadLine();
        for (var attempt = 0; attempt < 100; attempt++)
        {
            try
            {
                using var client = new TcpClient();
                await client.ConnectAsync(IPAddress.Loopback, port);
                return new RedisServer($"127.0.0.1:{port}", process);
            }
            catch (SocketException)
            {
                await Task.Delay(50);
            }
        }
        process.Kill();
        throw new InvalidOperationException($"redis-server did not listen on port {port}.");
    }

    public async ValueTask DisposeAsync()
    {
        if (_process is null || _process.HasExited) return;
        _process.Kill(entireProcessTree: true);
        await _process.WaitForExitAsync();
        _process.Dispose();
    }
}
