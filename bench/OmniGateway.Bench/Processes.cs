using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text;

namespace OmniGateway.Bench;

/// <summary>What the bench reads of a child process (<see cref="ChildProcess"/> is shared with the tests).</summary>
public static class ChildProcessDiagnostics
{
    /// <summary>
    /// A full blocking GC in the child (.NET only), through the runtime's diagnostics port: the GC-heap-collect
    /// keyword of an EventPipe session forces one, as dotnet-gcdump does. Afterwards the heap sizes in
    /// /metrics are what is live, not what happens to be uncollected.
    /// </summary>
    public static async Task ForceFullGcAsync(this ChildProcess child)
    {
        var client = new Microsoft.Diagnostics.NETCore.Client.DiagnosticsClient(child.ProcessId);
        const long GcHeapCollectKeyword = 0x800000;
        using var session = client.StartEventPipeSession(
            new Microsoft.Diagnostics.NETCore.Client.EventPipeProvider("Microsoft-Windows-DotNETRuntime", System.Diagnostics.Tracing.EventLevel.Informational, GcHeapCollectKeyword),
            requestRundown: false);
        var drain = session.EventStream.CopyToAsync(Stream.Null);
        await Task.Delay(TimeSpan.FromMilliseconds(500));
        await session.StopAsync(CancellationToken.None);
        await drain;
    }

    /// <summary>Resident memory, CPU time and per-thread context switches so far, of this process and its children (nginx's workers).</summary>
    public static ProcessSample Sample(this ChildProcess child) => ProcessSample.Of(child.ProcessId);
}

/// <param name="ThreadSwitches">Per thread id, its context switches so far: how often the thread slept and was woken, or
/// was preempted. A pass-through wakes a thread per socket event; every further hop (a thread-pool handover, a commit's
/// fsync, a spinning worker's yield) shows here (issue 11).</param>
public readonly record struct ProcessSample(long RssBytes, TimeSpan CpuTime, IReadOnlyDictionary<int, long> ThreadSwitches)
{
    private static readonly double TicksPerSecond = 100; // USER_HZ: 100 on every Linux the bench targets

    /// <summary>The CPU (user + system) spent from <paramref name="before"/> to this sample, per stream done meanwhile, in µs.</summary>
    public double CpuUsPerStreamSince(ProcessSample before, int streams) => (CpuTime - before.CpuTime).TotalMicroseconds / Math.Max(1, streams);

    /// <summary>
    /// The context switches (voluntary and not) from <paramref name="before"/> to this sample, per stream done meanwhile.
    /// Thread by thread: a thread that exits takes its count with it, which in a sum over the threads made the
    /// difference negative (a retired thread-pool worker's lifetime of switches). A thread gone by now is left out (its
    /// last switches uncounted); one that is new counts from zero.
    /// </summary>
    public double SwitchesPerStreamSince(ProcessSample before, int streams)
    {
        long switches = 0;
        foreach (var (thread, now) in ThreadSwitches)
        {
            var then = before.ThreadSwitches.GetValueOrDefault(thread);
            switches += now >= then ? now - then : now; // lower: the id was reused by a new thread
        }
        return (double)switches / Math.Max(1, streams);
    }

    /// <summary>Reads /proc for the process and its direct children (nginx master + workers).</summary>
    public static ProcessSample Of(int pid)
    {
        long rss = 0;
        double ticks = 0;
        var switches = new Dictionary<int, long>();
        foreach (var id in new[] { pid }.Concat(ChildrenOf(pid)))
        {
            try
            {
                var status = File.ReadAllLines($"/proc/{id}/status");
                var line = status.FirstOrDefault(l => l.StartsWith("VmRSS:", StringComparison.Ordinal));
                if (line is not null) rss += long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1]) * 1024;
                var stat = File.ReadAllText($"/proc/{id}/stat");
                var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
                ticks += double.Parse(fields[11]) + double.Parse(fields[12]); // utime, stime
                AddThreadSwitches(id, switches);
            }
            catch (IOException) { } // a worker that exited between listing and reading
        }
        return new ProcessSample(rss, TimeSpan.FromSeconds(ticks / TicksPerSecond), switches);
    }

    /// <summary>voluntary_ctxt_switches + nonvoluntary_ctxt_switches of each thread (the process's own status counts its main thread only).</summary>
    private static void AddThreadSwitches(int pid, Dictionary<int, long> switches)
    {
        foreach (var task in Directory.EnumerateDirectories($"/proc/{pid}/task"))
        {
            try
            {
                long count = 0;
                foreach (var line in File.ReadLines(Path.Combine(task, "status")))
                    if (line.Contains("ctxt_switches:", StringComparison.Ordinal))
                        count += long.Parse(line.AsSpan(line.IndexOf(':') + 1).Trim(), CultureInfo.InvariantCulture);
                switches[int.Parse(Path.GetFileName(task), CultureInfo.InvariantCulture)] = count;
            }
            catch (IOException) { } // a thread that exited between listing and reading
        }
    }

    private static IEnumerable<int> ChildrenOf(int pid)
    {
        var path = $"/proc/{pid}/task/{pid}/children";
        if (!File.Exists(path)) return [];
        return File.ReadAllText(path).Split(' ', StringSplitOptions.RemoveEmptyEntries).Select(int.Parse);
    }
}

/// <summary>How the bench starts the fake upstream, the gateway, the bare YARP pass-through and nginx.</summary>
public static class Launch
{
    public const string TenantKey = "og-bench-tenant-key-0123456789abcdef0123456789";
    public const string UpstreamKey = "sk-bench-upstream-key";

    /// <summary>This driver again, as the fake upstream alone, on a port of its own choosing (it prints it).</summary>
    public static Task<ChildProcess> UpstreamAsync()
    {
        var start = new ProcessStartInfo("dotnet");
        foreach (var arg in new[] { typeof(Launch).Assembly.Location, "upstream", "0" }) start.ArgumentList.Add(arg);
        return ChildProcess.StartAsync("fake upstream", start, "/healthz");
    }

    /// <summary>The gateway as operators run it: Production, durable SQLite ledger, Information logs to stdout.</summary>
    /// <param name="ledgerDirectory">Where the SQLite ledger lives (a tmpfs folder shows what fsync costs); default the work folder.</param>
    /// <param name="dll">Another build's OmniGateway.dll (an A/B baseline); default the one built alongside this bench.</param>
    public static Task<ChildProcess> GatewayAsync(Uri upstream, string workDirectory, string? ledgerDirectory = null, string? dll = null) =>
        // Management:Port stays 0 (GatewayProcess's default): /metrics on the API port, as the scenarios read it.
        GatewayProcess.StartAsync(new Dictionary<string, string?>
        {
            ["Upstream:Mode"] = "Live",
            ["Upstream:BaseUrl"] = upstream.ToString().TrimEnd('/'),
            ["Upstream:ApiKey"] = UpstreamKey,
            ["Gateway:Tenants:0:Id"] = "bench",
            ["Gateway:Tenants:0:KeySha256:0"] = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(TenantKey))),
            ["Gateway:MaxRequestBodyBytes"] = (64 * 1024 * 1024).ToString(CultureInfo.InvariantCulture),
            ["Usage:ConnectionString"] = $"Data Source={Path.Combine(ledgerDirectory ?? workDirectory, "usage.db")}",
        }, workDirectory, dll);

    /// <summary>The bare YARP pass-through (bench/OmniGateway.Bench.PassThrough): Kestrel and the forwarder, nothing of the gateway.</summary>
    public static Task<ChildProcess> PassThroughAsync(Uri upstream)
    {
        var dll = BuildOutput.Dll("bench/OmniGateway.Bench.PassThrough", "OmniGateway.Bench.PassThrough.dll");
        var start = new ProcessStartInfo("dotnet");
        foreach (var arg in new[] { dll, upstream.ToString(), "--urls", "http://127.0.0.1:0" }) start.ArgumentList.Add(arg);
        start.Environment["ASPNETCORE_ENVIRONMENT"] = "Production";
        return ChildProcess.StartAsync("yarp pass-through", start, "/healthz");
    }

    private static readonly string[] NginxPaths = ["/usr/sbin/nginx", "/usr/local/sbin/nginx", "/usr/bin/nginx"];

    /// <summary>nginx as a pure pass-through proxy with buffering off: the floor of what any proxy costs.</summary>
    public static async Task<ChildProcess?> NginxAsync(Uri upstream, string workDirectory)
    {
        var nginx = NginxPaths.FirstOrDefault(File.Exists);
        if (nginx is null) return null;
        // nginx cannot say which port 0 became, so here (alone) a free port is probed for it.
        var port = FreePort();
        var prefix = Path.Combine(workDirectory, "nginx");
        Directory.CreateDirectory(Path.Combine(prefix, "logs"));
        var config = Path.Combine(prefix, "nginx.conf");
        // Same work shape as the gateway's relay: HTTP/1.1 keep-alive to the upstream, no buffering either way.
        await File.WriteAllTextAsync(config, $$"""
            worker_processes auto;
            worker_rlimit_nofile 65536;
            pid {{prefix}}/nginx.pid;
            error_log {{prefix}}/logs/error.log warn;
            events { worker_connections 32768; }
            http {
              access_log off;
              client_body_temp_path {{prefix}}/body;
              proxy_temp_path {{prefix}}/proxy;
              client_max_body_size 64m;
              client_body_buffer_size 16m;
              upstream fake { server {{upstream.Host}}:{{upstream.Port}}; keepalive 1024; }
              server {
                listen 127.0.0.1:{{port}};
                location = /healthz { return 200 "ok"; }
                location / {
                  proxy_pass http://fake;
                  proxy_http_version 1.1;
                  proxy_set_header Connection "";
                  proxy_buffering off;
                  proxy_request_buffering off;
                }
              }
            }
            """);
        var start = new ProcessStartInfo(nginx);
        foreach (var arg in new[] { "-p", prefix, "-c", config, "-g", "daemon off;" }) start.ArgumentList.Add(arg);
        return await ChildProcess.StartAsync("nginx", start, "/healthz", knownAddress: new Uri($"http://127.0.0.1:{port}"));
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
