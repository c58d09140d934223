using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace OmniGateway.IntegrationTests.Usage;

/// <summary>
/// The gateway as a real process (<c>dotnet OmniGateway.dll</c>, as built by the test build), configured
/// by environment variables, so a test can kill it with SIGKILL and start it again on the same store.
/// </summary>
public sealed class GatewayProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly Queue<string> _lastLines = new();
    private readonly System.Collections.Concurrent.ConcurrentQueue<string> _output = new();

    private GatewayProcess(Process process, Uri baseUrl)
    {
        _process = process;
        BaseUrl = baseUrl;
        process.OutputDataReceived += (_, e) => Remember(e.Data);
        process.ErrorDataReceived += (_, e) => Remember(e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
    }

    public Uri BaseUrl { get; }

    public int ProcessId => _process.Id;

    /// <summary>Every line the process wrote, stdout and stderr, in arrival order.</summary>
    public IReadOnlyCollection<string> Output => _output;

    public string LastLines { get { lock (_lastLines) return string.Join('\n', _lastLines); } }

    public static async Task<GatewayProcess> StartAsync(IDictionary<string, string?> settings, string workingDirectory)
    {
        // FreePort's port may be taken by another test's process before the gateway binds it: then try another.
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                return await StartOnFreePortAsync(settings, workingDirectory);
            }
            catch (InvalidOperationException exception) when (attempt < 3 && exception.Message.Contains("address already in use", StringComparison.Ordinal))
            {
            }
        }
    }

    private static async Task<GatewayProcess> StartOnFreePortAsync(IDictionary<string, string?> settings, string workingDirectory)
    {
        var port = FreePort();
        var start = new ProcessStartInfo("dotnet") { WorkingDirectory = workingDirectory, RedirectStandardOutput = true, RedirectStandardError = true };
        start.ArgumentList.Add(GatewayDll());
        start.ArgumentList.Add("--urls");
        start.ArgumentList.Add($"http://127.0.0.1:{port}");
        // Parallel gateways must not all bind the default management port; a test that wants it split sets it.
        start.Environment["Management__Port"] = "0";
        foreach (var (key, value) in settings) start.Environment[key.Replace(":", "__", StringComparison.Ordinal)] = value;
        start.Environment["ASPNETCORE_ENVIRONMENT"] = "Production";
        var gateway = new GatewayProcess(Process.Start(start)!, new Uri($"http://127.0.0.1:{port}"));

        using var probe = new HttpClient { BaseAddress = gateway.BaseUrl, Timeout = TimeSpan.FromSeconds(2) };
        for (var i = 0; i < 1200; i++) // 120 s: a cold start on a loaded 2-core CI machine has taken 20 s
        {
            if (gateway._process.HasExited) throw new InvalidOperationException("The gateway exited at start-up:\n" + gateway.LastLines);
            try
            {
                using var response = await probe.GetAsync("/healthz");
                if (response.IsSuccessStatusCode) return gateway;
            }
            catch (HttpRequestException) { }
            catch (TaskCanceledException) { }
            await Task.Delay(100);
        }
        throw new TimeoutException("The gateway did not answer /healthz within 120 s:\n" + gateway.LastLines);
    }

    /// <summary>SIGKILL: no shutdown hook, no flush, no drain runs.</summary>
    public async Task KillAsync()
    {
        _process.Kill(entireProcessTree: false);
        await _process.WaitForExitAsync();
    }

    /// <summary>SIGTERM, as Kubernetes sends it on a deploy: the host's graceful shutdown runs.</summary>
    public void Terminate()
    {
        using var kill = Process.Start("kill", ["-TERM", _process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)]);
        kill.WaitForExit();
    }

    public bool HasExited => _process.HasExited;

    public int ExitCode => _process.ExitCode;

    public Task WaitForExitAsync(CancellationToken cancellationToken) => _process.WaitForExitAsync(cancellationToken);

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited) await KillAsync();
        _process.Dispose();
    }

    private void Remember(string? line)
    {
        if (line is null) return;
        _output.Enqueue(line);
        lock (_lastLines)
        {
            _lastLines.Enqueue(line);
            while (_lastLines.Count > 40) _lastLines.Dequeue();
        }
    }

    public static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    /// <summary>src/OmniGateway's own build output (it carries its runtimeconfig).</summary>
    private static string GatewayDll() => BuildOutput.Dll("src/OmniGateway", "OmniGateway.dll");
}
