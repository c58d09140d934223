using System.Globalization;
using System.Runtime.InteropServices;
using System.Text;

namespace OmniGateway.Bench;

/// <summary>Writes the results as a markdown table (with the machine and the targets) and a PNG chart.</summary>
public static class Report
{
    public const string MarkdownFile = "latest.md";
    public const string ChartFile = "overhead-by-concurrency.png";

    public static string Write(BenchResults results, string folder, TimeSpan took)
    {
        Directory.CreateDirectory(folder);
        var markdown = Markdown(results, took);
        File.WriteAllText(Path.Combine(folder, MarkdownFile), markdown);
        Chart(results, Path.Combine(folder, ChartFile));
        return markdown;
    }

    private static string F(double value, string format = "0.00") =>
        double.IsNaN(value) ? "–" : value.ToString(format, CultureInfo.InvariantCulture);

    /// <summary>An overhead cell: the target's figure minus direct's; blank on direct's own row.</summary>
    private static string Over(string target, double value, double direct, string format = "0.00") =>
        target == "direct" ? "" : F(value - direct, format);

    public static string Markdown(BenchResults r, TimeSpan took)
    {
        var md = new StringBuilder();
        md.AppendLine(CultureInfo.InvariantCulture, $"# OmniGateway benchmark ({r.Profile.Name} profile)");
        md.AppendLine();
        md.AppendLine(CultureInfo.InvariantCulture, $"Run {DateTimeOffset.UtcNow:yyyy-MM-dd HH:mm} UTC, {took.TotalMinutes:0.0} min. Machine: {Machine()}.");
        md.AppendLine("Everything shares the machine's cores: the bench process (load generator), the fake upstream, the gateway and nginx.");
        md.AppendLine("Each scenario alternates direct / gateway / nginx round by round. Overheads are the target's percentile minus direct's.");
        md.AppendLine(r.NginxAvailable ? "" : "\nnginx was not installed: no pass-through floor in this run.");
        md.AppendLine();

        md.AppendLine("## Targets");
        md.AppendLine();
        md.AppendLine("| target | measured | met |");
        md.AppendLine("|---|---|---|");
        foreach (var (name, measured, met) in Targets(r)) md.AppendLine(CultureInfo.InvariantCulture, $"| {name} | {measured} | {(met is null ? "n/a" : met.Value ? "yes" : "**no**")} |");
        md.AppendLine();

        md.AppendLine("## 1. Latency");
        md.AppendLine();
        md.AppendLine("Time to first byte, one stream at a time, the targets taking turns call by call (ms):");
        md.AppendLine();
        md.AppendLine("| via | calls | p50 | p90 | p99 | overhead p50 |");
        md.AppendLine("|---|---:|---:|---:|---:|---:|");
        foreach (var row in r.FirstByte)
        {
            var direct = r.FirstByte.Single(d => d.Target == "direct");
            md.AppendLine(CultureInfo.InvariantCulture,
                $"| {row.Target} | {row.Calls} | {F(row.P50, "0.000")} | {F(row.P90, "0.000")} | {F(row.P99, "0.000")} | {Over(row.Target, row.P50, direct.P50, "0.000")} |");
        }
        md.AppendLine();
        md.AppendLine("Concurrent streams of 12 text deltas, 10 ms apart (ms):");
        md.AppendLine();
        md.AppendLine("| streams | via | calls | failed | TTFB p50 | TTFB p99 | TTLB p50 | TTLB p99 | TTFB overhead p50 | TTFB overhead p99 | TTLB overhead p50 | TTLB overhead p99 | load-gen CPU |");
        md.AppendLine("|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
        foreach (var row in r.Latency)
        {
            var direct = r.Latency.Single(d => d.Concurrency == row.Concurrency && d.Target == "direct");
            md.AppendLine(CultureInfo.InvariantCulture,
                $"| {row.Concurrency} | {row.Target} | {row.Samples} | {row.Failures} | {F(row.FirstP50)} | {F(row.FirstP99)} | {F(row.LastP50)} | {F(row.LastP99)} | " +
                $"{Over(row.Target, row.FirstP50, direct.FirstP50)} | {Over(row.Target, row.FirstP99, direct.FirstP99)} | " +
                $"{Over(row.Target, row.LastP50, direct.LastP50)} | {Over(row.Target, row.LastP99, direct.LastP99)} | {row.LoadGeneratorCpu:P0} |");
        }
        md.AppendLine();

        md.AppendLine(CultureInfo.InvariantCulture, $"## 2. Throughput (zero event delay, {r.Profile.ThroughputConcurrency} concurrent, {r.Profile.ThroughputWindow.TotalSeconds:0} s rounds)");
        md.AppendLine();
        ThroughputTable(md, r.Throughput);

        md.AppendLine("## 3. Scale (streams held open after their first event)");
        md.AppendLine();
        md.AppendLine("| open streams | via | RSS before (MiB) | RSS open (MiB) | KiB per stream | CPU ms/s per 1 000 idle streams |");
        md.AppendLine("|---:|---|---:|---:|---:|---:|");
        foreach (var row in r.Scale)
            md.AppendLine(CultureInfo.InvariantCulture,
                $"| {row.Streams} | {row.Target} | {F(row.RssBeforeBytes / 1048576.0, "0")} | {F(row.RssOpenBytes / 1048576.0, "0")} | {F(row.KiBPerStream, "0.0")} | {F(row.CpuMsPerSecondPer1000, "0.0")} |");
        md.AppendLine();
        md.AppendLine(CultureInfo.InvariantCulture, $"Soak: {r.Soak.LastOrDefault()?.Streams ?? 0} streams through the gateway, {r.SoakFailures} failed; {F(r.RecordsPerCommit, "0.0")} usage records per ledger commit, {F(r.CommitMs, "0.00")} ms per commit (what a stream end waits for its record).");
        md.AppendLine();
        md.AppendLine("| streams done | gateway RSS (MiB) | live heap after a forced full GC (MiB) | allocated per stream (KiB) |");
        md.AppendLine("|---:|---:|---:|---:|");
        foreach (var point in r.Soak)
            md.AppendLine(CultureInfo.InvariantCulture,
                $"| {point.Streams} | {F(point.RssBytes / 1048576.0, "0")} | {F(point.LiveHeapBytes / 1048576.0, "0.0")} | {F(point.AllocatedBytesPerStream / 1024, "0.0")} |");
        md.AppendLine();

        md.AppendLine("## 4. Large bodies (ms)");
        md.AppendLine();
        md.AppendLine("| scenario | via | p50 | min | overhead p50 | failed |");
        md.AppendLine("|---|---|---:|---:|---:|---:|");
        foreach (var row in r.LargeBodies)
        {
            var direct = r.LargeBodies.Single(d => d.Scenario == row.Scenario && d.Target == "direct");
            md.AppendLine(CultureInfo.InvariantCulture,
                $"| {row.Scenario} | {row.Target} | {F(row.P50Ms)} | {F(row.MinMs)} | {Over(row.Target, row.P50Ms, direct.P50Ms)} | {row.Failures} |");
        }
        md.AppendLine();

        if (r.LedgerDurability.Count > 0)
        {
            md.AppendLine("## Durable accounting: the same throughput run with the ledger on disk and on tmpfs");
            md.AppendLine();
            md.AppendLine("Every completed stream's record is committed (SQLite WAL, synchronous=FULL) before `response.completed` is relayed;");
            md.AppendLine("on tmpfs the fsync is free, so the difference is what durability costs.");
            md.AppendLine();
            ThroughputTable(md, r.LedgerDurability);
        }

        md.AppendLine("## 5. Micro benchmarks");
        md.AppendLine();
        md.AppendLine("BenchmarkDotNet, validator and SSE usage reader: see [`micro/README.md`](micro/README.md) (`bench/run.sh --micro`).");
        md.AppendLine();
        md.AppendLine(CultureInfo.InvariantCulture, $"![TTFB overhead by concurrency]({ChartFile})");
        return md.ToString();
    }

    private static void ThroughputTable(StringBuilder md, List<ThroughputRow> rows)
    {
        md.AppendLine("| via | streams/s (median) | rounds | failed | vs first row | proxy CPU per stream (µs) | load-gen CPU |");
        md.AppendLine("|---|---:|---|---:|---:|---:|---:|");
        var baseline = rows.FirstOrDefault()?.Median ?? double.NaN;
        foreach (var row in rows)
            md.AppendLine(CultureInfo.InvariantCulture,
                $"| {row.Target} | {F(row.Median, "0")} | {string.Join(" / ", row.StreamsPerSecond.Select(s => F(s, "0")))} | {row.Failures} | {F(row.Median / baseline, "0.00")}× | {F(row.ProxyCpuUsPerStream, "0")} | {row.LoadGeneratorCpu:P0} |");
        md.AppendLine();
    }

    /// <summary>The issue's targets, each with what this run measured.</summary>
    public static IEnumerable<(string Name, string Measured, bool? Met)> Targets(BenchResults r)
    {
        var top = r.Latency.Select(l => l.Concurrency).DefaultIfEmpty(0).Max();
        var direct = r.Latency.FirstOrDefault(l => l.Concurrency == top && l.Target == "direct");
        var gateway = r.Latency.FirstOrDefault(l => l.Concurrency == top && l.Target == "gateway");
        if (direct is not null && gateway is not null)
        {
            var p50 = gateway.FirstP50 - direct.FirstP50;
            var p99 = gateway.FirstP99 - direct.FirstP99;
            yield return ($"TTFB overhead p50 ≤ 0.5 ms at {top} streams", $"{F(p50)} ms", top >= 500 ? p50 <= 0.5 : null);
            yield return ($"TTFB overhead p99 ≤ 3 ms at {top} streams", $"{F(p99)} ms", top >= 500 ? p99 <= 3 : null);
        }
        var gatewayRate = r.Throughput.FirstOrDefault(t => t.Target == "gateway")?.Median;
        var nginxRate = r.Throughput.FirstOrDefault(t => t.Target == "nginx")?.Median;
        if (gatewayRate is { } g && nginxRate is { } n)
            yield return ("streams/s ≥ 0.8× nginx", $"{F(g / n)}× ({F(g, "0")} vs {F(n, "0")})", g / n >= 0.8);
        var largest = r.Scale.Where(s => s.Target == "gateway").MaxBy(s => s.Streams);
        if (largest is not null)
            yield return ($"≤ 64 KiB per open stream ({largest.Streams} streams)", $"{F(largest.KiBPerStream, "0.0")} KiB", largest.Streams >= 1000 ? largest.KiBPerStream <= 64 : null);
        if (r.Soak.Count >= 3)
        {
            // The first checkpoint includes warm-up growth (JIT, pools, the SQLite page cache); a leak keeps growing after it.
            var early = r.Soak.Skip(1).Take(r.Soak.Count / 2).ToArray();
            var last = r.Soak[^1];
            var heapMet = last.LiveHeapBytes <= early.Max(p => p.LiveHeapBytes) * 1.1 + 1048576;
            var rssMet = last.RssBytes <= early.Max(p => p.RssBytes) * 1.1 + 16 * 1048576;
            yield return ($"no growth across {last.Streams} streams (live heap, RSS)",
                $"heap {F(early[0].LiveHeapBytes / 1048576.0, "0.0")} MiB at {early[0].Streams} → {F(last.LiveHeapBytes / 1048576.0, "0.0")} MiB; " +
                $"RSS {F(early[0].RssBytes / 1048576.0, "0")} → {F(last.RssBytes / 1048576.0, "0")} MiB", heapMet && rssMet);
        }
        var big = r.LargeBodies.Where(l => l.Scenario.StartsWith("request", StringComparison.Ordinal)).ToArray();
        if (big.FirstOrDefault(b => b.Target == "gateway") is { } bigGateway && big.FirstOrDefault(b => b.Target == "direct") is { } bigDirect)
            yield return ($"{r.Profile.LargeRequestBase64Bytes / 1048576.0:0.#} MiB inline-audio request: gateway overhead (validation + forwarding)",
                $"{F(bigGateway.P50Ms - bigDirect.P50Ms)} ms p50 (validation alone: micro/README.md, target ≤ 15 ms)", null);
    }

    private static string Machine()
    {
        var cpu = File.Exists("/proc/cpuinfo")
            ? File.ReadLines("/proc/cpuinfo").FirstOrDefault(l => l.StartsWith("model name", StringComparison.Ordinal))?.Split(':', 2)[1].Trim()
            : null;
        var memory = File.Exists("/proc/meminfo")
            ? File.ReadLines("/proc/meminfo").First().Split(' ', StringSplitOptions.RemoveEmptyEntries)[1]
            : null;
        var gib = memory is null ? "?" : (long.Parse(memory, CultureInfo.InvariantCulture) / 1048576.0).ToString("0", CultureInfo.InvariantCulture);
        return $"{cpu ?? RuntimeInformation.ProcessArchitecture.ToString()}, {Environment.ProcessorCount} cores, {gib} GiB, {RuntimeInformation.OSDescription}, .NET {Environment.Version}";
    }

    /// <summary>TTFB overhead (p50 and p99) by concurrency, gateway and nginx, as grouped bars.</summary>
    private static void Chart(BenchResults r, string path)
    {
        var plot = new ScottPlot.Plot();
        var levels = r.Latency.Select(l => l.Concurrency).Distinct().Order().ToArray();
        var series = new List<(string Label, Func<LatencyRow, LatencyRow, double> Value)>
        {
            ("gateway p50", (t, d) => t.FirstP50 - d.FirstP50),
            ("gateway p99", (t, d) => t.FirstP99 - d.FirstP99),
        };
        if (r.NginxAvailable)
        {
            series.Add(("nginx p50", (t, d) => t.FirstP50 - d.FirstP50));
            series.Add(("nginx p99", (t, d) => t.FirstP99 - d.FirstP99));
        }
        var palette = new ScottPlot.Palettes.Category10();
        for (var s = 0; s < series.Count; s++)
        {
            var (label, value) = series[s];
            var via = label.Split(' ')[0];
            var bars = new List<ScottPlot.Bar>();
            for (var i = 0; i < levels.Length; i++)
            {
                var row = r.Latency.FirstOrDefault(l => l.Concurrency == levels[i] && l.Target == via);
                var direct = r.Latency.FirstOrDefault(l => l.Concurrency == levels[i] && l.Target == "direct");
                if (row is null || direct is null) continue;
                bars.Add(new ScottPlot.Bar { Position = i * (series.Count + 1) + s, Value = value(row, direct), FillColor = palette.GetColor(s) });
            }
            var barPlot = plot.Add.Bars(bars);
            barPlot.LegendText = label;
        }
        plot.Axes.Bottom.SetTicks(
            levels.Select((_, i) => i * (series.Count + 1) + (series.Count - 1) / 2.0).ToArray(),
            levels.Select(l => $"{l} concurrent").ToArray());
        plot.Title("Time-to-first-byte overhead vs. direct (ms)");
        plot.YLabel("ms over direct");
        plot.ShowLegend(ScottPlot.Alignment.UpperLeft);
        plot.SavePng(path, 900, 500);
    }
}
