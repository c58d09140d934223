using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Json;

namespace OmniGateway.Bench;

/// <param name="FirstP50ByRound">TTFB p50 of each round alone (the pooled figures are over every round's calls): with direct's
/// same round, a per-round overhead, so a target is judged on the median of rounds and its spread shows.</param>
/// <param name="ProxyCpuUsPerStream">Per round: the proxy's CPU per stream at this pacing (from /proc); empty for direct.</param>
public sealed record LatencyRow(int Concurrency, string Target, int Samples, int Failures, double FirstP50, double FirstP99, double LastP50, double LastP99, double LoadGeneratorCpu,
    double[] FirstP50ByRound, double[] FirstP99ByRound, double[] ProxyCpuUsPerStream);
/// <param name="StreamsPerSecond">One figure per round.</param>
/// <param name="ProxyCpuUsPerStream">Per round: CPU the proxy process (from /proc: user + system, children included) spent per stream; empty for direct.</param>
/// <param name="LoadGeneratorCpu">The load generator's own CPU share (NaN when it is h2load).</param>
/// <param name="ProxySwitchesPerStream">Per round: the proxy's context switches per stream (<see cref="ProcessSample.ThreadSwitches"/>); empty for direct.</param>
public sealed record ThroughputRow(string Target, double[] StreamsPerSecond, int Failures, double LoadGeneratorCpu, double[] ProxyCpuUsPerStream,
    double[] ProxySwitchesPerStream)
{
    public double Median => Percentile.Of(StreamsPerSecond, 50);
    public double CpuMedian => Percentile.Of(ProxyCpuUsPerStream, 50);
}
/// <summary>
/// One round of the gateway and bare YARP loaded at the same moment (<see cref="Scenarios"/>' side-by-side scenario): each
/// one's streams per second and CPU per stream, under the same state of the machine.
/// </summary>
public sealed record SideBySideRound(double GatewayStreamsPerSecond, double GatewayCpuUsPerStream, double YarpStreamsPerSecond, double YarpCpuUsPerStream)
{
    public double CpuRatio => GatewayCpuUsPerStream / YarpCpuUsPerStream;
}
public sealed record ScaleRow(int Streams, string Target, double KiBPerStream, double CpuMsPerSecondPer1000, long RssBeforeBytes, long RssOpenBytes);
/// <param name="LiveHeapBytes">The GC heap right after a forced full GC: what is live, where a leak would pile up.</param>
public sealed record SoakPoint(int Streams, long RssBytes, double LiveHeapBytes, double AllocatedBytesPerStream);
public sealed record FirstByteRow(string Target, int Calls, double P50, double P90, double P99);
/// <param name="P50MsByRound">Each round's p50 alone, for per-round overheads against direct's same round (target 5 is judged on their median).</param>
public sealed record LargeBodyRow(string Scenario, string Target, double P50Ms, double MinMs, int Failures, double[] P50MsByRound);

public sealed class BenchResults
{
    public required BenchProfile Profile { get; init; }
    public List<LatencyRow> Latency { get; } = [];
    public List<ThroughputRow> Throughput { get; } = [];
    public List<ScaleRow> Scale { get; } = [];
    public List<SoakPoint> Soak { get; } = [];
    public List<SoakPoint> BaselineSoak { get; } = [];
    public int SoakFailures { get; set; }
    public double RecordsPerCommit { get; set; } = double.NaN;
    public double CommitMs { get; set; } = double.NaN;
    public List<FirstByteRow> FirstByte { get; } = [];
    public List<LargeBodyRow> LargeBodies { get; } = [];
    public List<ThroughputRow> LedgerDurability { get; } = [];
    /// <summary>The same throughput scenario driven by h2load instead of the .NET load generator; empty without h2load.</summary>
    public List<ThroughputRow> H2LoadThroughput { get; } = [];
    /// <summary>The gateway and bare YARP under h2load at the same time, round by round; empty without h2load.</summary>
    public List<SideBySideRound> SideBySide { get; } = [];
    public bool NginxAvailable { get; set; }
}

/// <summary>
/// Runs every scenario of bench/README.md against the same fake upstream: directly, through the
/// gateway, through a bare YARP pass-through and (when installed) through nginx, alternating round by
/// round so that a noisy neighbour hurts them all alike.
/// </summary>
public sealed class Scenarios(BenchProfile profile, ChildProcess upstream, ChildProcess gateway, ChildProcess yarp, ChildProcess? nginx, Action<string> log,
    ChildProcess? baseline = null) : IDisposable
{
    private readonly HttpClient _control = new() { BaseAddress = upstream.BaseUrl };

    private IEnumerable<(Target Target, ChildProcess? Process)> Targets(Target direct, Target viaGateway, Target viaYarp, Target? viaNginx, Target? viaBaseline)
    {
        yield return (direct, null);
        yield return (viaGateway, gateway);
        if (viaBaseline is not null) yield return (viaBaseline, baseline);
        yield return (viaYarp, yarp);
        if (viaNginx is not null) yield return (viaNginx, nginx);
    }

    public async Task<BenchResults> RunAsync()
    {
        var results = new BenchResults { Profile = profile, NginxAvailable = nginx is not null };
        using var direct = new Target("direct", upstream.BaseUrl, Launch.UpstreamKey);
        using var viaGateway = new Target("gateway", gateway.BaseUrl, Launch.TenantKey);
        using var viaYarp = new Target("yarp", yarp.BaseUrl, Launch.UpstreamKey);
        using var viaNginx = nginx is null ? null : new Target("nginx", nginx.BaseUrl, Launch.UpstreamKey);
        // An A/B of one change on a shared machine: another gateway build as one more target, alternating round by round.
        using var viaBaseline = baseline is null ? null : new Target(BaselineName, baseline.BaseUrl, Launch.TenantKey);
        var targets = Targets(direct, viaGateway, viaYarp, viaNginx, viaBaseline).ToArray();
        var clients = targets.Select(t => t.Target).ToArray();

        if (profile.Only is null || !profile.Only.Contains("nowarmup")) await WarmUpAsync(clients);
        if (profile.Runs("firstbyte")) await FirstByteAsync(results, clients);
        if (profile.Runs("latency")) await LatencyAsync(results, targets);
        if (profile.Runs("throughput")) await ThroughputAsync(results.Throughput, targets);
        if (profile.Runs("h2load")) await H2LoadThroughputAsync(results.H2LoadThroughput, targets);
        if (profile.Runs("sidebyside")) await SideBySideAsync(results.SideBySide, viaGateway, viaYarp);
        if (profile.Runs("large")) await LargeBodiesAsync(results, clients);
        if (profile.Runs("scale")) await ScaleAsync(results, targets.Where(t => t.Process is not null).ToArray());
        if (profile.Runs("soak")) await SoakAsync(results, viaGateway, gateway, results.Soak);
        if (profile.Runs("soak") && viaBaseline is not null) await SoakAsync(results, viaBaseline, baseline!, results.BaselineSoak);
        return results;
    }

    /// <summary>The fsync cost of durable accounting: the same gateway with its ledger on disk and on tmpfs, alternating.</summary>
    public async Task LedgerDurabilityAsync(BenchResults results, ChildProcess tmpfsGateway)
    {
        using var onDisk = new Target("gateway, ledger on disk", gateway.BaseUrl, Launch.TenantKey);
        using var onTmpfs = new Target("gateway, ledger on tmpfs", tmpfsGateway.BaseUrl, Launch.TenantKey);
        await WarmUpAsync([onTmpfs]);
        await ThroughputAsync(results.LedgerDurability, [(onDisk, gateway), (onTmpfs, tmpfsGateway)]);
    }

    /// <summary>The throughput load for <see cref="BenchProfile.WarmUp"/> per target, before any measured round: the JIT settles first.</summary>
    private async Task WarmUpAsync(IEnumerable<Target> targets)
    {
        await SetShapeAsync(new StreamShape(12, 0, 0, false));
        foreach (var target in targets)
        {
            log($"warm-up: {target.Name}, {profile.WarmUp.TotalSeconds:0} s");
            var run = await LoadGenerator.RunAsync(target, RequestBodies.TextQuestion, profile.ThroughputConcurrency, duration: profile.WarmUp);
            if (run.Failures > 0) throw new InvalidOperationException($"{target.Name}: {run.Failures} of {run.Calls.Count} warm-up calls failed (status {run.Calls.First(c => !c.Ok).Status}).");
        }
    }

    /// <summary>One stream at a time, the targets taking turns call by call: the gateway's own time to first byte.</summary>
    private async Task FirstByteAsync(BenchResults results, Target[] targets)
    {
        log($"time to first byte: {profile.FirstByteCalls} calls each, one at a time");
        await SetShapeAsync(new StreamShape(3, 0, 0, false));
        var calls = targets.ToDictionary(t => t.Name, _ => new List<double>());
        for (var i = 0; i < profile.FirstByteCalls; i++)
            foreach (var target in targets)
                if (await target.StreamAsync(RequestBodies.TextQuestion, CancellationToken.None) is { Ok: true } call)
                    calls[target.Name].Add(call.FirstByteMs);
        foreach (var target in targets)
        {
            var ms = calls[target.Name];
            results.FirstByte.Add(new FirstByteRow(target.Name, ms.Count, Percentile.Of(ms, 50), Percentile.Of(ms, 90), Percentile.Of(ms, 99)));
        }
    }

    /// <summary>
    /// Realistically paced streams at each concurrency: times to first and last byte, and each proxy's CPU per stream at
    /// that pacing, where a stream's cost is mostly its events' (the throughput scenario's zero delay is mostly set-up).
    /// </summary>
    private async Task LatencyAsync(BenchResults results, (Target Target, ChildProcess? Process)[] targetsWithProcesses)
    {
        await SetShapeAsync(StreamShape.Realistic);
        var targets = targetsWithProcesses.Select(t => t.Target).ToArray();
        foreach (var plan in profile.Latency)
        {
            log($"latency: {plan.Concurrency} concurrent streams");
            var runs = targets.ToDictionary(t => t.Name, _ => new List<LoadRun>());
            var cpu = targets.ToDictionary(t => t.Name, _ => new List<double>());
            for (var round = 0; round < profile.Rounds; round++)
                foreach (var (target, process) in targetsWithProcesses)
                {
                    var before = process?.Sample();
                    var run = await LoadGenerator.RunAsync(target, RequestBodies.TextQuestion, plan.Concurrency, plan.StreamsPerWorker);
                    runs[target.Name].Add(run);
                    if (before is { } b) cpu[target.Name].Add(process!.Sample().CpuUsPerStreamSince(b, run.Calls.Count(c => c.Ok)));
                }
            foreach (var target in targets)
            {
                var calls = runs[target.Name].SelectMany(r => r.Succeeded).ToArray();
                results.Latency.Add(new LatencyRow(plan.Concurrency, target.Name, calls.Length, runs[target.Name].Sum(r => r.Failures),
                    Percentile.Of(calls.Select(c => c.FirstByteMs), 50), Percentile.Of(calls.Select(c => c.FirstByteMs), 99),
                    Percentile.Of(calls.Select(c => c.LastByteMs), 50), Percentile.Of(calls.Select(c => c.LastByteMs), 99),
                    runs[target.Name].Max(r => r.LoadGeneratorCpuShare),
                    [.. runs[target.Name].Select(r => Percentile.Of(r.Succeeded.Select(c => c.FirstByteMs), 50))],
                    [.. runs[target.Name].Select(r => Percentile.Of(r.Succeeded.Select(c => c.FirstByteMs), 99))],
                    [.. cpu[target.Name]]));
            }
        }
    }

    private async Task ThroughputAsync(List<ThroughputRow> rows, (Target Target, ChildProcess? Process)[] targets)
    {
        log("throughput: zero event delay, saturation");
        await SetShapeAsync(new StreamShape(12, 0, 0, false));
        var runs = targets.ToDictionary(t => t.Target.Name, _ => new List<LoadRun>());
        var cpu = targets.ToDictionary(t => t.Target.Name, _ => new List<double>());
        var switches = targets.ToDictionary(t => t.Target.Name, _ => new List<double>());
        for (var round = 0; round < profile.Rounds; round++)
            foreach (var (target, process) in targets)
            {
                var before = process?.Sample();
                var run = await LoadGenerator.RunAsync(target, RequestBodies.TextQuestion, profile.ThroughputConcurrency, duration: profile.ThroughputWindow);
                runs[target.Name].Add(run);
                AddRoundCost(process, before, run.Calls.Count(c => c.Ok), cpu[target.Name], switches[target.Name]);
            }
        foreach (var (target, _) in targets)
        {
            rows.Add(new ThroughputRow(target.Name, runs[target.Name].Select(r => r.StreamsPerSecond).ToArray(),
                runs[target.Name].Sum(r => r.Failures), runs[target.Name].Max(r => r.LoadGeneratorCpuShare), cpu[target.Name].ToArray(),
                switches[target.Name].ToArray()));
        }
    }

    /// <summary>The throughput scenario again with h2load as the client: the ratios must not be the .NET load generator's.</summary>
    private async Task H2LoadThroughputAsync(List<ThroughputRow> rows, (Target Target, ChildProcess? Process)[] targets)
    {
        if (H2Load.Executable is null)
        {
            log("h2load is not installed: no cross-check of the throughput ratios");
            return;
        }
        log("throughput cross-check: h2load");
        await WithZeroDelayBodyFileAsync(async body =>
        {
            var rates = targets.ToDictionary(t => t.Target.Name, _ => new List<double>());
            var cpu = targets.ToDictionary(t => t.Target.Name, _ => new List<double>());
            var switches = targets.ToDictionary(t => t.Target.Name, _ => new List<double>());
            var failures = targets.ToDictionary(t => t.Target.Name, _ => 0);
            for (var round = 0; round < profile.Rounds; round++)
                foreach (var (target, process) in targets)
                {
                    var key = target.Name.StartsWith("gateway", StringComparison.Ordinal) ? Launch.TenantKey : Launch.UpstreamKey;
                    var (before, (ok, failed, elapsed)) = await H2LoadRoundAsync(target.Name, async () =>
                    {
                        var sample = process?.Sample(); // per try: a hung round's CPU is not charged to the next
                        return (sample, await H2Load.RunAsync(target.BaseUrl, key, body, profile.ThroughputConcurrency, profile.ThroughputWindow));
                    });
                    rates[target.Name].Add(ok / elapsed.TotalSeconds);
                    failures[target.Name] += failed;
                    AddRoundCost(process, before, ok, cpu[target.Name], switches[target.Name]);
                }
            foreach (var (target, _) in targets)
                rows.Add(new ThroughputRow(target.Name, rates[target.Name].ToArray(), failures[target.Name], double.NaN, cpu[target.Name].ToArray(),
                    switches[target.Name].ToArray()));
        });
    }

    /// <summary>
    /// Target 1 read where a slow spell of the machine cannot fall on one side only: the gateway and bare YARP each under
    /// h2load at the same moment, round by round, as bench/ab.sh runs two builds.
    /// Rounds taken one target after the other moved the ratio between 2.4× and 3.3× from run to run (2026-12-08); two
    /// identical gateways side by side read within ±5 % per round. Each side's CPU per stream reads higher than alone
    /// (the two share the cores); the ratio is the figure.
    /// </summary>
    private async Task SideBySideAsync(List<SideBySideRound> rounds, Target viaGateway, Target viaYarp)
    {
        if (H2Load.Executable is null)
        {
            log("h2load is not installed: no side-by-side reading of target 1");
            return;
        }
        log("side by side: gateway and bare YARP at once, h2load");
        await WithZeroDelayBodyFileAsync(async body =>
        {
            // Each side the throughput scenario's own connections, not half: the gateway's commits are shared by the streams
            // ending together, and half the streams would have made each of its records dearer than in every other figure.
            var connections = profile.ThroughputConcurrency;
            for (var round = 0; round < profile.SideBySideRounds; round++)
            {
                rounds.Add(await H2LoadRoundAsync("side by side", async () =>
                {
                    var (gatewayBefore, yarpBefore) = (gateway.Sample(), yarp.Sample());
                    var gatewayLoad = H2Load.RunAsync(viaGateway.BaseUrl, Launch.TenantKey, body, connections, profile.ThroughputWindow);
                    var yarpLoad = H2Load.RunAsync(viaYarp.BaseUrl, Launch.UpstreamKey, body, connections, profile.ThroughputWindow);
                    await Task.WhenAll(gatewayLoad, yarpLoad); // both done before a hung one's try is run again
                    var (gatewayAfter, yarpAfter) = (gateway.Sample(), yarp.Sample());
                    var ((gatewayOk, gatewayFailed, gatewayElapsed), (yarpOk, yarpFailed, yarpElapsed)) = (gatewayLoad.Result, yarpLoad.Result);
                    if (gatewayFailed + yarpFailed > 0)
                        throw new InvalidOperationException($"side by side: {gatewayFailed} gateway and {yarpFailed} yarp streams failed");
                    return new SideBySideRound(gatewayOk / gatewayElapsed.TotalSeconds, gatewayAfter.CpuUsPerStreamSince(gatewayBefore, gatewayOk),
                        yarpOk / yarpElapsed.TotalSeconds, yarpAfter.CpuUsPerStreamSince(yarpBefore, yarpOk));
                }));
            }
        });
    }

    /// <summary>
    /// One h2load round, run again (three tries in all) when h2load hangs past its window (<see cref="H2Load.RunAsync"/>'s
    /// <see cref="TimeoutException"/>); <paramref name="round"/> takes its own samples, so a hung try's CPU is not counted.
    /// </summary>
    private async Task<T> H2LoadRoundAsync<T>(string what, Func<Task<T>> round)
    {
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                return await round();
            }
            catch (TimeoutException timeout) when (attempt < 3)
            {
                log($"{what}: {timeout.Message}; running the round again");
            }
        }
    }

    /// <summary>The zero-delay stream shape, and its request body in a file for h2load (<c>-d</c>) while <paramref name="measure"/> runs.</summary>
    private async Task WithZeroDelayBodyFileAsync(Func<string, Task> measure)
    {
        await SetShapeAsync(new StreamShape(12, 0, 0, false));
        var body = Path.GetTempFileName();
        try
        {
            await File.WriteAllBytesAsync(body, RequestBodies.TextQuestion);
            await measure(body);
        }
        finally
        {
            File.Delete(body);
        }
    }

    /// <summary>A throughput round's cost to the proxy, from one sample after it: CPU and context switches per stream (nothing for direct).</summary>
    private static void AddRoundCost(ChildProcess? process, ProcessSample? before, int streams, List<double> cpu, List<double> switches)
    {
        if (process is null || before is not { } b) return;
        var after = process.Sample();
        cpu.Add(after.CpuUsPerStreamSince(b, streams));
        switches.Add(after.SwitchesPerStreamSince(b, streams));
    }

    private async Task LargeBodiesAsync(BenchResults results, Target[] targets)
    {
        log($"large bodies: {profile.LargeRequestBase64Bytes / 1024 / 1024.0:0.#} MiB inline audio request, {profile.LargeAudioEventBytes / 1024 / 1024.0:0.#} MiB audio event");
        var bigRequest = RequestBodies.InlineAudioQuestion(profile.LargeRequestBase64Bytes);
        await SetShapeAsync(new StreamShape(3, 0, 0, false));
        await MeasureAsync("request with inline audio: time to first event", bigRequest, c => c.FirstByteMs);
        await SetShapeAsync(new StreamShape(3, 0, profile.LargeAudioEventBytes, false));
        await MeasureAsync("response with one large audio event: time to last byte", RequestBodies.TextQuestion, c => c.LastByteMs);

        // LargeBodyRounds rounds of LargeBodyIterations calls per target, taking turns call by call: a round's p50 against
        // direct's in the same round is one overhead, and the rounds' spread shows how far one run's figure can be trusted.
        async Task MeasureAsync(string scenario, byte[] body, Func<StreamTiming, double> measure)
        {
            var rounds = targets.ToDictionary(t => t.Name, _ => new List<List<StreamTiming>>());
            for (var round = 0; round < profile.LargeBodyRounds; round++)
            {
                foreach (var target in targets) rounds[target.Name].Add([]);
                for (var i = 0; i < profile.LargeBodyIterations; i++)
                    foreach (var target in targets)
                        rounds[target.Name][round].Add(await target.StreamAsync(body, CancellationToken.None));
            }
            foreach (var target in targets)
            {
                var calls = rounds[target.Name].SelectMany(r => r).ToArray();
                var ok = calls.Where(c => c.Ok).Select(measure).ToArray();
                results.LargeBodies.Add(new LargeBodyRow(scenario, target.Name, Percentile.Of(ok, 50), ok.Length > 0 ? ok.Min() : double.NaN,
                    calls.Count(c => !c.Ok), [.. rounds[target.Name].Select(r => Percentile.Of(r.Where(c => c.Ok).Select(measure), 50))]));
            }
        }
    }

    /// <summary>Streams held open after their first event: what each open stream costs a proxy in memory and CPU.</summary>
    private async Task ScaleAsync(BenchResults results, (Target Target, ChildProcess? Process)[] proxies)
    {
        await SetShapeAsync(new StreamShape(3, 0, 0, HoldUntilReleased: true));
        // A proxy holds two sockets per open stream (client and upstream) and inherits our open-file limit; past it,
        // accepts fail with EMFILE and the level never opens (a 20 000 hard limit cannot hold 10 000 proxied streams).
        // Largest first: a level's RSS before is what the proxy kept from the levels before it (pooled buffers, a grown
        // heap), which a later, larger level reuses and so reads as cheaper per stream (9 700 after 5 000: 9.1 KiB; alone: 33.7).
        // The largest level is the one target 4b judges, so it is measured on a proxy that held no streams yet.
        var levels = profile.ScaleLevels.Select(level => Math.Min(level, OpenFiles.MaxProxiedStreams)).Distinct().OrderDescending().ToArray();
        foreach (var level in levels)
            foreach (var (target, process) in proxies)
            {
                log($"scale: {level} open streams through {target.Name}");
                var before = process!.Sample(); // proxies only: every entry has its process
                var opened = 0;
                var allOpen = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                var streams = new List<Task<StreamTiming>>(level);
                for (var i = 0; i < level; i++)
                {
                    streams.Add(target.StreamAsync(RequestBodies.TextQuestion, CancellationToken.None, () =>
                    {
                        if (Interlocked.Increment(ref opened) == level) allOpen.TrySetResult();
                        return Task.CompletedTask;
                    }, closeConnection: true)); // pooled, each level's connections would still hold descriptors in the next
                    if (i % 200 == 199) await Task.Delay(20); // stays under Kestrel's and nginx's accept backlog
                }
                var allEnded = Task.WhenAll(streams); // before all are open: some failed
                if (await Task.WhenAny(allOpen.Task, allEnded, Task.Delay(TimeSpan.FromMinutes(2))) != allOpen.Task)
                    throw new InvalidOperationException($"only {opened} of {level} streams opened through {target.Name}");
                await Task.Delay(TimeSpan.FromSeconds(1)); // settle: the last connections' handshakes are not idle cost
                var open = process!.Sample();
                await Task.Delay(TimeSpan.FromSeconds(3));
                var idle = process!.Sample();
                await _control.PostAsync("/control/release", null);
                var done = await Task.WhenAll(streams);
                if (done.Any(d => !d.Ok)) throw new InvalidOperationException($"{done.Count(d => !d.Ok)} held streams through {target.Name} failed");
                results.Scale.Add(new ScaleRow(level, target.Name,
                    (open.RssBytes - before.RssBytes) / 1024.0 / level,
                    (idle.CpuTime - open.CpuTime).TotalMilliseconds / 3.0 / level * 1000,
                    before.RssBytes, open.RssBytes));
            }
    }

    /// <summary>Many streams back to back through the gateway; the retained heap after each tenth shows a leak as growth.</summary>
    private async Task SoakAsync(BenchResults results, Target viaGateway, ChildProcess gateway, List<SoakPoint> points)
    {
        log($"soak: {profile.SoakStreams} streams through {viaGateway.Name}");
        await SetShapeAsync(new StreamShape(6, 0, 0, false));
        const int concurrency = 32;
        var checkpoint = profile.SoakStreams / 10;
        var first = await ScrapeAsync(gateway);
        var last = first;
        for (var done = 0; done < profile.SoakStreams; done += checkpoint)
        {
            var run = await LoadGenerator.RunAsync(viaGateway, RequestBodies.TextQuestion, concurrency, streamsPerWorker: checkpoint / concurrency);
            results.SoakFailures += run.Failures;
            await gateway.ForceFullGcAsync();
            var now = await ScrapeAsync(gateway);
            points.Add(new SoakPoint(done + run.Calls.Count, gateway.Sample().RssBytes, now.Heap,
                (now.Allocated - last.Allocated) / run.Calls.Count));
            last = now;
        }
        if (points != results.Soak) return;
        var commits = Math.Max(1, last.Commits - first.Commits);
        results.RecordsPerCommit = (last.Records - first.Records) / commits;
        results.CommitMs = (last.CommitSeconds - first.CommitSeconds) * 1000 / commits;
    }

    private sealed record GatewayMeters(double Heap, double Allocated, double Commits, double Records, double CommitSeconds);

    /// <summary>The gateway's own /metrics: the runtime's heap (System.Runtime meter) and the ledger's commits.</summary>
    private static async Task<GatewayMeters> ScrapeAsync(ChildProcess gateway)
    {
        // The Prometheus exporter caches its answer for 300 ms: an earlier scrape's numbers would come back.
        await Task.Delay(TimeSpan.FromMilliseconds(400));
        using var client = new HttpClient { BaseAddress = gateway.BaseUrl };
        var lines = (await client.GetStringAsync("/metrics")).Split('\n');
        double Sum(string name, Func<string, bool>? where = null) => lines
            .Where(l => l.StartsWith(name, StringComparison.Ordinal) && (l[name.Length] is '{' or ' ') && (where is null || where(l)))
            .Sum(l => double.Parse(l[(l.LastIndexOf(' ') + 1)..], CultureInfo.InvariantCulture));
        return new GatewayMeters(
            Sum("dotnet_gc_last_collection_heap_size_bytes"),
            Sum("dotnet_gc_heap_total_allocated_bytes_total"),
            Sum("omnigateway_ledger_commits_total"),
            Sum("omnigateway_ledger_records_total"),
            Sum("omnigateway_ledger_commit_time_seconds_total"));
    }

    public void Dispose() => _control.Dispose();

    /// <summary>The A/B target's name: the gateway built from <c>OMNIGATEWAY_BENCH_BASELINE</c> (a folder holding OmniGateway.dll).</summary>
    public const string BaselineName = "gateway-baseline";

    private async Task SetShapeAsync(StreamShape shape)
    {
        using var response = await _control.PutAsJsonAsync("/control/shape", shape, BenchUpstream.JsonOptions);
        response.EnsureSuccessStatusCode();
    }
}

/// <summary>Starts the fake upstream, the gateway and nginx, runs every scenario, stops them.</summary>
public static class BenchRun
{
    public static async Task<BenchResults> RunAsync(BenchProfile profile, Action<string> log)
    {
        var work = Directory.CreateTempSubdirectory("omnigateway-bench-");
        try
        {
            await using var upstream = await Launch.UpstreamAsync();
            await using var gateway = await Launch.GatewayAsync(upstream.BaseUrl, work.FullName);
            await using var yarp = await Launch.PassThroughAsync(upstream.BaseUrl);
            await using var nginx = await Launch.NginxAsync(upstream.BaseUrl, work.FullName);
            var baselineDll = Environment.GetEnvironmentVariable("OMNIGATEWAY_BENCH_BASELINE") is { Length: > 0 } folder ? Path.Combine(folder, "OmniGateway.dll") : null;
            var baselineWork = baselineDll is null ? null : Directory.CreateTempSubdirectory("omnigateway-bench-baseline-");
            await using var baseline = baselineDll is null ? null : await Launch.GatewayAsync(upstream.BaseUrl, baselineWork!.FullName, dll: baselineDll);
            if (baseline is not null) log($"A/B: {Scenarios.BaselineName} is {baselineDll}");
            log(nginx is null ? "nginx is not installed: no pass-through floor in this run" : "nginx found: measuring the pass-through floor too");
            using var scenarios = new Scenarios(profile, upstream, gateway, yarp, nginx, log, baseline);
            var results = await scenarios.RunAsync();
            if (profile.Runs("ledger") && Directory.Exists("/dev/shm"))
            {
                var tmpfs = Directory.CreateTempSubdirectory("omnigateway-bench-ledger-");
                var tmpfsLedger = Path.Combine("/dev/shm", tmpfs.Name);
                Directory.CreateDirectory(tmpfsLedger);
                try
                {
                    await using var tmpfsGateway = await Launch.GatewayAsync(upstream.BaseUrl, tmpfs.FullName, tmpfsLedger);
                    log("ledger: disk vs tmpfs");
                    await scenarios.LedgerDurabilityAsync(results, tmpfsGateway);
                }
                finally
                {
                    Directory.Delete(tmpfsLedger, recursive: true);
                    tmpfs.Delete(recursive: true);
                }
            }
            return results;
        }
        finally
        {
            try { work.Delete(recursive: true); } catch (IOException) { }
        }
    }
}

/// <summary>This process's open-file limit (children inherit it), from /proc/self/limits.</summary>
public static class OpenFiles
{
    /// <summary>Soft limit on open files; int.MaxValue where it cannot be read.</summary>
    public static int Limit { get; } = Read();

    /// <summary>Streams a proxy can hold open under <see cref="Limit"/>: two sockets each, and room for its own files.</summary>
    public static int MaxProxiedStreams => Limit == int.MaxValue ? int.MaxValue : Math.Max(1, (Limit - 500) / 2 / 100 * 100);

    private static int Read()
    {
        try
        {
            var line = File.ReadLines("/proc/self/limits").FirstOrDefault(l => l.StartsWith("Max open files", StringComparison.Ordinal));
            var fields = line?.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            return fields is { Length: >= 5 } && int.TryParse(fields[3], out var soft) ? soft : int.MaxValue;
        }
        catch (IOException)
        {
            return int.MaxValue;
        }
    }
}
