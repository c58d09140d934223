using System.Diagnostics;
using System.Globalization;
using System.Text.RegularExpressions;

namespace OmniGateway.Bench;

/// <summary>
/// nghttp2's h2load (HTTP/1.1 mode) as a second, native load generator: a cross-check that the throughput
/// ratios are the proxies' and not the .NET load generator's. run.sh installs it on Debian.
/// </summary>
public static partial class H2Load
{
    private static readonly string[] Paths = ["/usr/bin/h2load", "/usr/local/bin/h2load"];

    public static string? Executable => Paths.FirstOrDefault(File.Exists);

    /// <summary>Closed loop of <paramref name="connections"/> keep-alive connections for <paramref name="duration"/>: streams that got a 2xx, and the wall time.</summary>
    public static async Task<(int Succeeded, int Failed, TimeSpan Elapsed)> RunAsync(Uri baseUrl, string key, string bodyFile, int connections, TimeSpan duration)
    {
        var start = new ProcessStartInfo(Executable ?? throw new InvalidOperationException("h2load is not installed"))
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var arg in new[]
        {
            "--h1", "-c", connections.ToString(CultureInfo.InvariantCulture), "-D", duration.TotalSeconds.ToString("0.###", CultureInfo.InvariantCulture),
            "-d", bodyFile, "-H", $"authorization: Bearer {key}", "-H", "content-type: application/json", new Uri(baseUrl, "/v1/responses").ToString(),
        }) start.ArgumentList.Add(arg);
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        // h2load has been seen to hang past its -D window (one connection stuck with unsent bytes, the rest reconnecting):
        // such a round is killed and reported as a timeout for the caller to run again.
        using (var overdue = new CancellationTokenSource(duration + TimeSpan.FromSeconds(30)))
        {
            try
            {
                await process.WaitForExitAsync(overdue.Token);
            }
            catch (OperationCanceledException)
            {
                process.Kill(entireProcessTree: true);
                throw new TimeoutException($"h2load ran {duration + TimeSpan.FromSeconds(30)} past its start without finishing a {duration} round");
            }
        }
        var output = await stdout;
        var requests = Requests().Match(output);
        var finished = Finished().Match(output);
        if (process.ExitCode != 0 || !requests.Success || !finished.Success)
            throw new InvalidOperationException($"h2load failed ({process.ExitCode}):\n{output}\n{await stderr}");
        var seconds = double.Parse(finished.Groups["s"].Value, CultureInfo.InvariantCulture) * (finished.Groups["unit"].Value == "ms" ? 0.001 : 1);
        return (int.Parse(requests.Groups["ok"].Value, CultureInfo.InvariantCulture),
            int.Parse(requests.Groups["failed"].Value, CultureInfo.InvariantCulture) + int.Parse(requests.Groups["errored"].Value, CultureInfo.InvariantCulture),
            TimeSpan.FromSeconds(seconds));
    }

    // "requests: 1000 total, 1000 started, 1000 done, 998 succeeded, 2 failed, 0 errored, 0 timeout"
    [GeneratedRegex(@"requests: \d+ total, \d+ started, \d+ done, (?<ok>\d+) succeeded, (?<failed>\d+) failed, (?<errored>\d+) errored")]
    private static partial Regex Requests();

    // "finished in 5.00s, 4000.00 req/s, 12.34MB/s"
    [GeneratedRegex(@"finished in (?<s>[\d.]+)(?<unit>ms|s),")]
    private static partial Regex Finished();
}
