using System.Diagnostics;
using System.Globalization;
using System.Text.RegularExpressions;

namespace OmniGateway.Testing;

/// <summary>
/// A process a test or the bench started (the gateway, a fake upstream, nginx): its output kept, killed with
/// its children on dispose. A server binds port 0 and prints where it listens — Kestrel's
/// <c>Now listening on: http://127.0.0.1:PORT</c>, in whatever log format — so no port is probed free and then
/// lost to another process before the server binds it.
/// </summary>
public sealed partial class ChildProcess : IAsyncDisposable
{
    private static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(120); // a cold start on a loaded 2-core CI machine has taken 20 s

    private readonly Process _process;
    private readonly Queue<string> _lastLines = new();
    private readonly System.Collections.Concurrent.ConcurrentQueue<string> _output = new();
    private readonly List<Uri> _addresses = [];
    private readonly TaskCompletionSource<Uri> _listening = new(TaskCreationOptions.RunContinuationsAsynchronously);

    private ChildProcess(Process process, Uri? address)
    {
        _process = process;
        if (address is not null) _listening.TrySetResult(address);
        process.OutputDataReceived += (_, e) => Remember(e.Data);
        process.ErrorDataReceived += (_, e) => Remember(e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
    }

    /// <summary>The first address the process said it listens on (or the one it was told to use).</summary>
    public Uri BaseUrl => _listening.Task.Result;

    /// <summary>Every address the process said it listens on, in the order it said so.</summary>
    public IReadOnlyList<Uri> Addresses { get { lock (_addresses) return [.. _addresses]; } }

    public int ProcessId => _process.Id;

    /// <summary>Every line the process wrote, stdout and stderr, in arrival order.</summary>
    public IReadOnlyCollection<string> Output => _output;

    public string LastLines { get { lock (_lastLines) return string.Join('\n', _lastLines); } }

    public bool HasExited => _process.HasExited;

    public int ExitCode => _process.ExitCode;

    /// <summary>
    /// Starts the process and returns once <paramref name="readyPath"/> answers 2xx on its address: the one it
    /// prints, or <paramref name="knownAddress"/> for a server that cannot bind port 0 and say so (nginx).
    /// </summary>
    public static async Task<ChildProcess> StartAsync(string name, ProcessStartInfo start, string readyPath, Uri? knownAddress = null)
    {
        start.RedirectStandardOutput = true;
        start.RedirectStandardError = true;
        start.UseShellExecute = false;
        var child = new ChildProcess(Process.Start(start) ?? throw new InvalidOperationException($"{name} did not start"), knownAddress);
        try
        {
            await child.WaitUntilReadyAsync(name, readyPath);
            return child;
        }
        catch
        {
            await child.DisposeAsync();
            throw;
        }
    }

    private async Task WaitUntilReadyAsync(string name, string readyPath)
    {
        using var deadline = new CancellationTokenSource(StartTimeout);
        var exited = _process.WaitForExitAsync(deadline.Token);
        try
        {
            if (await Task.WhenAny(_listening.Task, exited) != _listening.Task)
            {
                await exited; // a timeout throws here; an exit falls through
                throw new InvalidOperationException($"{name} exited at start-up:\n{LastLines}");
            }
            using var probe = new HttpClient { BaseAddress = BaseUrl, Timeout = TimeSpan.FromSeconds(2) };
            while (true)
            {
                if (_process.HasExited) throw new InvalidOperationException($"{name} exited at start-up:\n{LastLines}");
                try
                {
                    using var response = await probe.GetAsync(readyPath, deadline.Token);
                    if (response.IsSuccessStatusCode) return;
                }
                catch (HttpRequestException) { }
                catch (TaskCanceledException) when (!deadline.IsCancellationRequested) { }
                await Task.Delay(100, deadline.Token);
            }
        }
        catch (OperationCanceledException) when (deadline.IsCancellationRequested)
        {
            throw new TimeoutException($"{name} was not ready ({readyPath}) within {StartTimeout.TotalSeconds:0} s:\n{LastLines}");
        }
    }

    /// <summary>
    /// Runs a program to its end, at most <paramref name="timeout"/> (then it is killed with its children and
    /// the exit code is -1): its exit code and everything it wrote to stdout and stderr.
    /// </summary>
    public static async Task<(int ExitCode, string Stdout, string Stderr)> RunToEndAsync(ProcessStartInfo start, TimeSpan timeout)
    {
        start.RedirectStandardOutput = true;
        start.RedirectStandardError = true;
        start.UseShellExecute = false;
        using var process = Process.Start(start) ?? throw new InvalidOperationException($"{start.FileName} did not start");
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var deadline = new CancellationTokenSource(timeout);
        try
        {
            await process.WaitForExitAsync(deadline.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            return (-1, await stdout, $"{start.FileName} did not finish within {timeout.TotalSeconds:0} s\n" + await stderr);
        }
        return (process.ExitCode, await stdout, await stderr);
    }

    /// <summary>SIGKILL to the process alone: no shutdown hook, no flush, no drain runs.</summary>
    public async Task KillAsync()
    {
        _process.Kill(entireProcessTree: false);
        await _process.WaitForExitAsync();
    }

    /// <summary>SIGTERM, as Kubernetes sends it on a deploy: the host's graceful shutdown runs.</summary>
    public void Terminate()
    {
        using var kill = Process.Start("kill", ["-TERM", _process.Id.ToString(CultureInfo.InvariantCulture)]);
        kill.WaitForExit();
    }

    public Task WaitForExitAsync(CancellationToken cancellationToken) => _process.WaitForExitAsync(cancellationToken);

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
        _output.Enqueue(line);
        lock (_lastLines)
        {
            _lastLines.Enqueue(line);
            while (_lastLines.Count > 40) _lastLines.Dequeue();
        }
        if (!line.Contains("Now listening on", StringComparison.Ordinal)) return;
        // Text ("Now listening on: http://…") and JSON ({"@mt":"Now listening on: {address}","address":"http://…"}) alike.
        var match = ListeningAddress().Match(line);
        if (!match.Success) return;
        var address = new Uri(match.Value);
        lock (_addresses) _addresses.Add(address);
        _listening.TrySetResult(address);
    }

    [GeneratedRegex(@"https?://[^\s""]+")]
    private static partial Regex ListeningAddress();
}
