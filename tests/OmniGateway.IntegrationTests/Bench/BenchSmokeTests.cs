using System.Diagnostics;
using System.Text.RegularExpressions;

namespace OmniGateway.IntegrationTests.Bench;

/// <summary>
/// bench/ must not rot: its smoke profile (seconds, not minutes) runs the real driver — fake upstream,
/// gateway process, nginx when installed — and must produce every section with numbers. No timing is
/// asserted here; speed is judged by the full run's ratios (bench/results/latest.md).
/// </summary>
[Trait("Category", "Slow")]
public sealed partial class BenchSmokeTests
{
    [Fact]
    public async Task SmokeRun_ProducesEveryScenarioWithNumbers_AndAChart()
    {
        var output = Directory.CreateTempSubdirectory("og-bench-smoke-");
        try
        {
            var start = new ProcessStartInfo("dotnet");
            foreach (var arg in new[] { BenchDll(), "run", "--smoke", "--out", output.FullName }) start.ArgumentList.Add(arg);
            var (exitCode, stdout, stderr) = await ChildProcess.RunToEndAsync(start, TimeSpan.FromMinutes(4));
            Assert.True(exitCode == 0, $"bench exited {exitCode}:\n{stderr}\n{stdout}");

            var report = await File.ReadAllTextAsync(Path.Combine(output.FullName, "latest.md"));
            foreach (var section in new[] { "## Targets", "## 1. Latency", "## 2. Throughput", "## 3. Scale", "Soak:", "## 4. Large bodies" })
                Assert.Contains(section, report, StringComparison.Ordinal);
            // Every latency row through the gateway has a measured TTFB, and no call failed.
            var latency = report[report.IndexOf("## 1. Latency", StringComparison.Ordinal)..report.IndexOf("Round by round", StringComparison.Ordinal)];
            var gatewayRows = latency.Split('\n').Where(l => LatencyRow().IsMatch(l) && l.Contains("| gateway |", StringComparison.Ordinal)).ToArray();
            Assert.NotEmpty(gatewayRows);
            Assert.All(gatewayRows, row => Assert.Matches(@"^\| \d+ \| gateway \| \d+ \| 0 \| \d+\.\d\d \|", row));
            // Round by round: the gateway's TTFB overheads at every concurrency, its CPU per paced stream at the busiest.
            var rounds = report[report.IndexOf("Round by round", StringComparison.Ordinal)..report.IndexOf("## 2. Throughput", StringComparison.Ordinal)];
            var gatewayRounds = rounds.Split('\n').Where(l => l.StartsWith('|') && l.Contains("| gateway |", StringComparison.Ordinal)).ToArray();
            Assert.Equal(gatewayRows.Length, gatewayRounds.Length);
            Assert.All(gatewayRounds, row => Assert.Matches(@"^\| \d+ \| gateway \| \d+ \| -?\d+\.\d\d\b.* \| -?\d+\.\d\d\b.* \| (\d+( \(\d+–\d+\))?)? \|$", row));
            Assert.Matches(@"\| \d+( \(\d+–\d+\))? \|$", gatewayRounds[^1]); // the busiest level's CPU per paced stream
            // Large bodies: the gateway's overhead round by round beside the pooled one, in both scenarios.
            Assert.Equal(2, Regex.Count(report, @"^\| [^|]+ \| gateway \| [\d.]+ \| [\d.]+ \| -?[\d.]+ \| -?\d+\.\d\d\b[^|]* \| 0 \|$", RegexOptions.Multiline));
            Assert.Matches(@"\| gateway \| \d+ \|", report); // throughput: streams per second
            Assert.Matches(@"\| yarp \| \d+ \|", report);    // the bare YARP baseline beside it
            // Throughput: each proxy's CPU and context switches per stream, read from /proc (a switch count of 0 would mean none were read).
            foreach (var proxy in new[] { "gateway", "yarp" })
                Assert.Matches(@"(?m)^\| " + proxy + @" \| [^|]+ \| [^|]+ \| 0 \| \d+( \(\d+–\d+\))? \| (?!0\.0\b)\d+\.\d( \([\d.]+–[\d.]+\))? \| [^|]+ \|$", report);
            Assert.Matches(@"Soak: \d+ streams through the gateway, 0 failed", report);
            // With h2load (test.sh installs it and requires it): the throughput cross-check, and target 1 read side by side,
            // each side's CPU per stream non-zero and their ratio in the targets' table.
            if (File.Exists("/usr/bin/h2load") || Environment.GetEnvironmentVariable("OMNIGATEWAY_REQUIRE_H2LOAD") == "1")
            {
                Assert.Contains("Cross-check with h2load", report, StringComparison.Ordinal);
                Assert.Matches(@"(?m)^\| 1 \| [1-9]\d* \| [1-9]\d* \| [1-9]\d* \| [1-9]\d* \| \d+\.\d\d× \|$", report);
                Assert.Matches(@"side by side: \d+\.\d\d× in 1 round \|", report);
            }

            var chart = await File.ReadAllBytesAsync(Path.Combine(output.FullName, "overhead-by-concurrency.png"));
            Assert.True(chart.Length > 1000 && chart.AsSpan(0, 8).SequenceEqual(new byte[] { 0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A }), "the chart is not a PNG");
        }
        finally
        {
            output.Delete(recursive: true);
        }
    }

    [GeneratedRegex(@"^\| \d+ \| \w+ \| \d+ \|")]
    private static partial Regex LatencyRow();

    private static string BenchDll() => BuildOutput.Dll("bench/OmniGateway.Bench", "OmniGateway.Bench.dll");
}
