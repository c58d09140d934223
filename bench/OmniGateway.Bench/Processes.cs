using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Reflection;
using System.Security.Cryptography;
using System.Text;

namespace OmniGateway.Bench;

/// <summary>A child process the bench started (fake upstream, gateway, nginx), killed with the bench.</summary>
public sealed class ChildProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly Queue<string> _lastLines = new();

    private ChildProcess(Process process, Uri baseUrl)
    {
        _process = process;
        BaseUrl = baseUrl;
        process.OutputDataReceived += (_, e) => Remember(e.Data);
        process.ErrorDataReceived += (_, e) => Remember(e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
    }

    public Uri BaseUrl { get; }

    public static async Task<ChildProcess> StartAsync(string name, ProcessStartInfo start, int port, string readyPath)
    {
        start.RedirectStandardOutput = true;
        start.RedirectStandardError = true;
        start.UseShellExecute = false;
        var child = new ChildProcess(Process.Start(start) ?? throw new InvalidOperationException($"{name} did not start"), new Uri($"http://127.0.0.1:{port}"));
        using var probe = new HttpClient { BaseAddress = child.BaseUrl, Timeout = TimeSpan.FromSeconds(2) };
        for (var i = 0; i < 300; i++)
        {
            if (child._process.HasExited) throw new InvalidOperationException($"{name} exited at start-up:\n{child.LastLines}");
            try
            {
                using var response = await probe.GetAsync(readyPath);
                if (response.IsSuccessStatusCode) return child;
            }
            catch (HttpRequestException) { }
            catch (TaskCanceledException) { }
            await Task.Delay(100);
        }
        throw new TimeoutException($"{name} did not answer {readyPath} within 30 s:\n{child.LastLines}");
    }

    public string LastLines { get { lock (_lastLines) return string.Join('\n', _lastLines); } }

    /// <summary>
    /// A full blocking GC in the child (.NET only), through the runtime's diagnostics port: the GC-heap-collect
    /// keyword of an EventPipe session forces one, as dotnet-gcdump does. Afterwards the heap sizes in
    /// /metrics are what is live, not what happens to be uncollected.
    /// </summary>
    public async Task ForceFullGcAsync()
    {
        var client = new Microsoft.Diagnostics.NETCore.Client.DiagnosticsClient(_process.Id);
        const long GcHeapCollectKeyword = 0x800000;
        using var session = client.StartEventPipeSession(
            new Microsoft.Diagnostics.NETCore.Client.EventPipeProvider("Microsoft-Windows-DotNETRuntime", System.Diagnostics.Tracing.EventLevel.Informational, GcHeapCollectKeyword),
            requestRundown: false);
        var drain = session.EventStream.CopyToAsync(Stream.Null);
        await Task.Delay(TimeSpan.FromMilliseconds(500));
        await session.StopAsync(CancellationToken.None);
        await drain;
    }

    /// <summary>Resident memory and CPU time so far, of this process and its children (nginx's workers).</summary>
    public ProcessSample Sample() => ProcessSample.Of(_process.Id);

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync();
        }
        _process.Dispose();
    }

    private void Remember(string? line)
    {
        if (line is null) return;
        lock (_lastLines)
        {
            _lastLines.Enqueue(line);
            while (_lastLines.Count > 30) _lastLines.Dequeue();
        }
    }

    public static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}

public readonly record struct ProcessSample(long RssBytes, TimeSpan CpuTime)
{
    private static readonly double TicksPerSecond = 100; // USER_HZ: 100 on every Linux the bench targets

    /// <summary>Reads /proc for the process and its direct children (nginx master + workers).</summary>
    public static ProcessSample Of(int pid)
    {
        long rss = 0;
        double ticks = 0;
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
            }
            catch (IOException) { } // a worker that exited between listing and reading
        }
        return new ProcessSample(rss, TimeSpan.FromSeconds(ticks / TicksPerSecond));
    }

    private static IEnumerable<int> ChildrenOf(int pid)
    {
        var path = $"/proc/{pid}/task/{pid}/children";
        if (!File.Exists(path)) return [];
        return File.ReadAllText(path).Split(' ', StringSplitOptions.RemoveEmptyEntries).Select(int.Parse);
    }
}

/// <summary>Where the gateway's build output is, and how to start it against the fake upstream.</summary>
public static class Launch
{
    public const string TenantKey = "og-bench-tenant-key-0123456789abcdef0123456789";
    public const string UpstreamKey = "sk-bench-upstream-key";

    public static string RepoRoot()
    {
        for (var folder = new DirectoryInfo(AppContext.BaseDirectory); folder is not null; folder = folder.Parent)
            if (File.Exists(Path.Combine(folder.FullName, "OmniGateway.sln"))) return folder.FullName;
        throw new DirectoryNotFoundException("OmniGateway.sln not found above " + AppContext.BaseDirectory);
    }

    public static Task<ChildProcess> UpstreamAsync()
    {
        var port = ChildProcess.FreePort();
        var start = new ProcessStartInfo("dotnet");
        start.ArgumentList.Add(typeof(Launch).Assembly.Location);
        start.ArgumentList.Add("upstream");
        start.ArgumentList.Add(port.ToString());
        return ChildProcess.StartAsync("fake upstream", start, port, "/healthz");
    }

    /// <summary>The gateway as operators run it: Production, durable SQLite ledger, Information logs to stdout.</summary>
    /// <param name="ledgerDirectory">Where the SQLite ledger lives (a tmpfs folder shows what fsync costs); default the work folder.</param>
    public static Task<ChildProcess> GatewayAsync(Uri upstream, string workDirectory, string? ledgerDirectory = null)
    {
        // The gateway built alongside this bench, in the same configuration (run.sh and the test suite build Release).
        var configuration = typeof(Launch).Assembly.GetCustomAttribute<AssemblyConfigurationAttribute>()?.Configuration ?? "Release";
        var dll = Path.Combine(RepoRoot(), "src", "OmniGateway", "bin", configuration, "net10.0", "OmniGateway.dll");
        if (!File.Exists(dll)) throw new FileNotFoundException($"Build the gateway first (dotnet build -c {configuration}): {dll} is missing.");
        var port = ChildProcess.FreePort();
        var start = new ProcessStartInfo("dotnet") { WorkingDirectory = workDirectory };
        start.ArgumentList.Add(dll);
        start.ArgumentList.Add("--urls");
        start.ArgumentList.Add($"http://127.0.0.1:{port}");
        var env = start.Environment;
        env["ASPNETCORE_ENVIRONMENT"] = "Production";
        env["Management__Port"] = "0"; // /metrics on the API port, as the scenarios read it; no clash with other gateways
        env["Upstream__Mode"] = "Live";
        env["Upstream__BaseUrl"] = upstream.ToString().TrimEnd('/');
        env["Upstream__ApiKey"] = UpstreamKey;
        env["Gateway__Tenants__0__Id"] = "bench";
        env["Gateway__Tenants__0__KeySha256__0"] = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(TenantKey)));
        env["Gateway__MaxRequestBodyBytes"] = (64 * 1024 * 1024).ToString();
        env["Usage__ConnectionString"] = $"Data Source={Path.Combine(ledgerDirectory ?? workDirectory, "usage.db")}";
        return ChildProcess.StartAsync("gateway", start, port, "/healthz");
    }

    /// <summary>The bare YARP pass-through (bench/OmniGateway.Bench.PassThrough): Kestrel and the forwarder, nothing of the gateway.</summary>
    public static Task<ChildProcess> PassThroughAsync(Uri upstream)
    {
        var configuration = typeof(Launch).Assembly.GetCustomAttribute<AssemblyConfigurationAttribute>()?.Configuration ?? "Release";
        var dll = Path.Combine(RepoRoot(), "bench", "OmniGateway.Bench.PassThrough", "bin", configuration, "net10.0", "OmniGateway.Bench.PassThrough.dll");
        if (!File.Exists(dll)) throw new FileNotFoundException($"Build the solution first (dotnet build -c {configuration}): {dll} is missing.");
        var port = ChildProcess.FreePort();
        var start = new ProcessStartInfo("dotnet");
        foreach (var arg in new[] { dll, upstream.ToString(), "--urls", $"http://127.0.0.1:{port}" }) start.ArgumentList.Add(arg);
        start.Environment["ASPNETCORE_ENVIRONMENT"] = "Production";
        return ChildProcess.StartAsync("yarp pass-through", start, port, "/healthz");
    }

    private static readonly string[] NginxPaths = ["/usr/sbin/nginx", "/usr/local/sbin/nginx", "/usr/bin/nginx"];

    /// <summary>nginx as a pure pass-through proxy with buffering off: the floor of what any proxy costs.</summary>
    public static async Task<ChildProcess?> NginxAsync(Uri upstream, string workDirectory)
    {
        var nginx = NginxPaths.FirstOrDefault(File.Exists);
        if (nginx is null) return null;
        var port = ChildProcess.FreePort();
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
        return await ChildProcess.StartAsync("nginx", start, port, "/healthz");
    }
}
