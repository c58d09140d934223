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

    private static readonly string[] TextOnly = ["text"];

    /// <summary>Until the instance's connection to Redis is up (its /readyz says so), it would fail open.</summary>
    private static async Task ConnectedAsync(params HttpClient[] clients)
    {
        foreach (var client in clients)
        {
            var waited = Stopwatch.StartNew();
            while (!(await client.GetStringAsync("/readyz")).Contains("counted in Redis", StringComparison.Ordinal) && waited.Elapsed < TimeSpan.FromSeconds(20))
                await Task.Delay(50);
        }
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

    [Fact]
    public async Task CallOnOneInstanceReportingTheMinutesTokens_MakesTheNextCallOnTheOther429TokensPerMinuteExceeded()
    {
        await using var redis = await RedisServer.SharedOrOwnAsync();
        _upstream.Respond = context => FakeUpstream.ModelAsync(context, wantedOutputTokens: 300, TimeSpan.Zero);
        var (a, b) = TwoInstances(redis.Address, new Dictionary<string, string?> { ["Gateway:Tenants:0:Limits:TokensPerMinute"] = "200" });
        await ConnectedAsync(a, b);

        Assert.Equal(HttpStatusCode.OK, (await CallAsync(a)).Status); // reports about 310 tokens, past the minute's 200

        // B has charged nothing itself: per instance it would admit. Shared: the minute is spent.
        using var refused = await b.PostAsync("/v1/responses", Body());
        Assert.Equal(HttpStatusCode.TooManyRequests, refused.StatusCode);
        Assert.Contains("tokens_per_minute_exceeded", await refused.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.InRange(refused.Headers.RetryAfter?.Delta ?? TimeSpan.Zero, TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(60));
        Assert.Single(_upstream.Requests); // refused before any upstream call
        Assert.Equal(HttpStatusCode.TooManyRequests, (await CallAsync(a)).Status);
    }

    [Fact]
    public async Task ConcurrentBurstSplitAcrossTwoInstances_ReservesNoMoreThanTheDailyBudgetInTotal()
    {
        const long budget = 2000;
        await using var redis = await RedisServer.SharedOrOwnAsync();
        // Every admitted call is held at the upstream until the whole burst has been admitted or refused,
        // so all reservations are in flight at once (no commit helps either instance).
        var burstDecided = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        _upstream.Respond = async context =>
        {
            await burstDecided.Task.WaitAsync(TimeSpan.FromSeconds(30));
            await FakeUpstream.ModelAsync(context, wantedOutputTokens: 400, TimeSpan.Zero);
        };
        var (a, b) = TwoInstances(redis.Address, new Dictionary<string, string?>
        {
            ["Gateway:Tenants:0:Limits:DailyTokens"] = budget.ToString(System.Globalization.CultureInfo.InvariantCulture),
        });
        await ConnectedAsync(a, b);
        // A prompt long enough that the gateway's estimate is above the fake model's count (as with a real tokenizer).
        var prompt = string.Concat(Enumerable.Repeat("Tell me about shared budgets. ", 8));
        var refusedSoFar = 0;
        var calls = Enumerable.Range(0, 20).Select(async i =>
        {
            using var content = new StringContent(JsonSerializer.Serialize(new Dictionary<string, object?>
            {
                ["model"] = "qwen3.5-omni-plus-all", ["input"] = prompt, ["stream"] = true, ["modalities"] = TextOnly, ["max_output_tokens"] = 400,
            }), Encoding.UTF8, "application/json");
            using var request = new HttpRequestMessage(HttpMethod.Post, "/v1/responses") { Content = content };
            using var response = await (i % 2 == 0 ? a : b).SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
            if (response.StatusCode == HttpStatusCode.TooManyRequests) Interlocked.Increment(ref refusedSoFar);
            return (response.StatusCode, Body: await response.Content.ReadAsStringAsync(), Instance: i % 2);
        }).ToArray();
        var waited = Stopwatch.StartNew();
        while (Volatile.Read(ref refusedSoFar) + _upstream.Requests.Count < 20 && waited.Elapsed < TimeSpan.FromSeconds(30)) await Task.Delay(10);
        burstDecided.SetResult();
        var results = await Task.WhenAll(calls);

        var admitted = results.Where(r => r.StatusCode == HttpStatusCode.OK).ToList();
        var refused = results.Where(r => r.StatusCode == HttpStatusCode.TooManyRequests).ToList();
        Assert.Equal(20, admitted.Count + refused.Count);
        Assert.All(refused, r => Assert.Contains("token_budget_exceeded", r.Body, StringComparison.Ordinal));
        // What the upstream was asked to produce at most (each call's forwarded cap, lowered to the room left) and what it billed.
        var forwardedCaps = _upstream.Requests.Sum(r => r.Json().RootElement.GetProperty("max_output_tokens").GetInt64());
        var spent = admitted.Sum(r => long.Parse(System.Text.RegularExpressions.Regex.Match(r.Body, "\"total_tokens\":(\\d+)").Groups[1].Value,
            System.Globalization.CultureInfo.InvariantCulture));
        // Per instance each would have admitted about 2000 tokens' worth (about 4000 in all); shared, the two together stay within 2000.
        Assert.True(forwardedCaps <= budget, $"the two instances forwarded caps of {forwardedCaps} output tokens against a budget of {budget}");
        Assert.True(spent <= budget, $"the tenant spent {spent} tokens against a budget of {budget} ({admitted.Count} of 20 admitted)");
        Assert.InRange(admitted.Count, 2, 6);
    }

    [Fact, Trait("Category", "Slow")] // a gateway process of its own
    public async Task InstanceKilledWithAReservationHeld_TheReservationIsRenewedWhileItLives_AndExpiresOnceItIsDead()
    {
        await using var redis = await RedisServer.SharedOrOwnAsync();
        var prefix = $"test-{Guid.NewGuid():N}:";
        var first = 1;
        _upstream.Respond = async context =>
        {
            if (Interlocked.Exchange(ref first, 0) == 1) await Task.Delay(Timeout.Infinite, context.RequestAborted); // held until its caller dies
            await FakeUpstream.ModelAsync(context, wantedOutputTokens: 10, TimeSpan.Zero);
        };
        var settings = new Dictionary<string, string?>
        {
            ["Gateway:Tenants:0:Id"] = "web",
            ["Gateway:Tenants:0:KeySha256:0"] = GatewayFactory.Sha256(GatewayFactory.TenantKey),
            ["Gateway:Tenants:0:Limits:DailyTokens"] = "1000",
            ["Upstream:BaseUrl"] = _upstream.BaseUrl.ToString().TrimEnd('/'),
            ["Upstream:ApiKey"] = GatewayFactory.UpstreamKey,
            ["RateLimiting:Provider"] = "Redis",
            ["RateLimiting:RedisKeyPrefix"] = prefix,
            ["RateLimiting:StreamLeaseTtl"] = "00:00:03",
            ["ConnectionStrings:Redis"] = redis.Address,
            ["Serilog:MinimumLevel:Default"] = "Warning",
        };
        var directory = Path.Combine(Path.GetTempPath(), "og-reservation-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(directory);
        settings["Usage:ConnectionString"] = $"Data Source={Path.Combine(directory, "usage.db")}";
        await using var dying = await OmniGateway.Testing.GatewayProcess.StartAsync(settings, directory);
        _gateways.Add(new GatewayFactory(_upstream.BaseUrl, new Dictionary<string, string?>
        {
            ["Gateway:Tenants:0:Limits:DailyTokens"] = "1000",
            ["RateLimiting:Provider"] = "Redis",
            ["RateLimiting:RedisKeyPrefix"] = prefix,
            ["RateLimiting:StreamLeaseTtl"] = "00:00:03",
            ["ConnectionStrings:Redis"] = redis.Address,
        }));
        var survivor = _gateways[^1].CreateTenantClient();
        await ConnectedAsync(survivor);
        using var onDying = new HttpClient { BaseAddress = dying.BaseUrl, Timeout = TimeSpan.FromSeconds(60) };
        onDying.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", GatewayFactory.TenantKey);

        // Reserves its estimate plus up to 990 output tokens (lowered to fit): the 1000 less under 16, and is held at the upstream.
        var held = onDying.PostAsync("/v1/responses", Capped(990));
        var started = Stopwatch.StartNew();
        while (_upstream.Requests.IsEmpty && started.Elapsed < TimeSpan.FromSeconds(30)) await Task.Delay(10);
        Assert.False(_upstream.Requests.IsEmpty, dying.LastLines);

        // Past the reservation's time to live: the living instance renews it, so the room is still taken.
        await Task.Delay(TimeSpan.FromSeconds(4.5));
        using (var stillHeld = await survivor.PostAsync("/v1/responses", Capped(500)))
        {
            Assert.Equal(HttpStatusCode.TooManyRequests, stillHeld.StatusCode);
            Assert.Contains("reserved", await stillHeld.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        }

        await dying.KillAsync(); // SIGKILL: nothing releases the reservation
        await Record.ExceptionAsync(() => held); // its connection died with it
        var killed = Stopwatch.StartNew();
        HttpStatusCode status;
        do
        {
            await Task.Delay(250);
            using var retry = await survivor.PostAsync("/v1/responses", Capped(500));
            status = retry.StatusCode;
        }
        while (status == HttpStatusCode.TooManyRequests && killed.Elapsed < TimeSpan.FromSeconds(20));
        Assert.Equal(HttpStatusCode.OK, status); // the dead instance's reservation expired (time to live 3 s)
        try { Directory.Delete(directory, recursive: true); } catch (IOException) { }

        static StringContent Capped(long maxOutputTokens) => new(
            $$"""{"model":"qwen3.5-omni-plus-all","input":"Hi","stream":true,"modalities":["text"],"max_output_tokens":{{maxOutputTokens}}}""",
            Encoding.UTF8, "application/json");
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

    /// <summary>
    /// A redis-server of the test's own. It cannot bind port 0 and say which port it got, so the port is probed
    /// free; another process can take it before the server binds it, and then the start is tried again on another.
    /// Ready is what the server says: a connect would also succeed against whatever took the port.
    /// </summary>
    public static async Task<RedisServer> StartOwnAsync()
    {
        var binary = Environment.GetEnvironmentVariable("OMNIGATEWAY_REDIS_BIN") is { Length: > 0 } configured ? configured : "redis-server";
        for (var attempt = 1; ; attempt++)
        {
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
            var output = new System.Collections.Concurrent.ConcurrentQueue<string>();
            var ready = new TaskCompletionSource<bool>(TaskCreationOptions.RunContinuationsAsynchronously);
            process.OutputDataReceived += (_, e) =>
            {
                if (e.Data is null) { ready.TrySetResult(false); return; } // its output ended: it exited
                output.Enqueue(e.Data);
                if (e.Data.Contains("Ready to accept connections", StringComparison.Ordinal)) ready.TrySetResult(true);
            };
            process.BeginOutputReadLine();
            bool started;
            try
            {
                started = await ready.Task.WaitAsync(TimeSpan.FromSeconds(10));
            }
            catch (TimeoutException)
            {
                started = false;
            }
            if (started) return new RedisServer($"127.0.0.1:{port}", process);
            if (!process.HasExited) process.Kill();
            await process.WaitForExitAsync();
            process.Dispose();
            if (attempt < 3 && output.Any(line => line.Contains("Address already in use", StringComparison.Ordinal))) continue;
            throw new InvalidOperationException($"redis-server did not listen on port {port}:\n{string.Join('\n', output.TakeLast(20))}");
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (_process is null || _process.HasExited) return;
        _process.Kill(entireProcessTree: true);
        await _process.WaitForExitAsync();
        _process.Dispose();
    }
}
