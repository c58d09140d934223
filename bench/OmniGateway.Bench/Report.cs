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
        md.AppendLine("Everything shares the machine's cores: the bench process (load generator), the fake upstream, the gateway, the bare YARP pass-through and nginx.");
        md.AppendLine(CultureInfo.InvariantCulture, $"Each scenario alternates direct / gateway / yarp / nginx round by round, after {r.Profile.WarmUp.TotalSeconds:0} s of warm-up per target. Overheads are the target's percentile minus direct's.");
        md.AppendLine("`yarp` is bench/OmniGateway.Bench.PassThrough: the same Kestrel and YARP forwarder with nothing of the gateway — the framework's own cost.");
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
        TableAgainstDirect(md, "| via | calls | p50 | p90 | p99 | overhead p50 |", "|---|---:|---:|---:|---:|---:|",
            r.FirstByte, static row => row.Target, static _ => 0, static (row, direct) => string.Create(CultureInfo.InvariantCulture,
                $"| {row.Target} | {row.Calls} | {F(row.P50, "0.000")} | {F(row.P90, "0.000")} | {F(row.P99, "0.000")} | {Over(row.Target, row.P50, direct.P50, "0.000")} |"));
        md.AppendLine();
        md.AppendLine("Concurrent streams of 12 text deltas, 10 ms apart (ms):");
        md.AppendLine();
        TableAgainstDirect(md,
            "| streams | via | calls | failed | TTFB p50 | TTFB p99 | TTLB p50 | TTLB p99 | TTFB overhead p50 | TTFB overhead p99 | TTLB overhead p50 | TTLB overhead p99 | load-gen CPU |",
            "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
            r.Latency, static row => row.Target, static row => row.Concurrency, static (row, direct) => string.Create(CultureInfo.InvariantCulture,
                $"| {row.Concurrency} | {row.Target} | {row.Samples} | {row.Failures} | {F(row.FirstP50)} | {F(row.FirstP99)} | {F(row.LastP50)} | {F(row.LastP99)} | " +
                $"{Over(row.Target, row.FirstP50, direct.FirstP50)} | {Over(row.Target, row.FirstP99, direct.FirstP99)} | " +
                $"{Over(row.Target, row.LastP50, direct.LastP50)} | {Over(row.Target, row.LastP99, direct.LastP99)} | {row.LoadGeneratorCpu:P0} |"));
        md.AppendLine();
        md.AppendLine("Round by round, median (min–max) of the rounds: the TTFB overhead (each round's percentile minus direct's in the same round, ms), on which target 3 is judged, " +
            "and, at the busiest level, the proxy's CPU per stream at this pacing (from /proc; a paced stream's cost is mostly its events', the zero-delay throughput's mostly its set-up):");
        md.AppendLine();
        md.AppendLine("| streams | via | rounds | TTFB overhead p50 | TTFB overhead p99 | proxy CPU per stream, µs |");
        md.AppendLine("|---:|---|---:|---:|---:|---:|");
        var busiest = r.Latency.Select(l => l.Concurrency).DefaultIfEmpty(0).Max();
        foreach (var row in r.Latency.Where(l => l.Target != "direct"))
        {
            var direct = r.Latency.Single(d => d.Concurrency == row.Concurrency && d.Target == "direct");
            // Below the busiest level a process's own idle work (timers, GC, checkpoints) outweighs a few streams a second.
            var cpu = row.Concurrency == busiest ? Spread(row.ProxyCpuUsPerStream) : "";
            md.AppendLine(CultureInfo.InvariantCulture,
                $"| {row.Concurrency} | {row.Target} | {row.FirstP50ByRound.Length} | {Spread(RoundOverheads(row.FirstP50ByRound, direct.FirstP50ByRound), "0.00")} | {Spread(RoundOverheads(row.FirstP99ByRound, direct.FirstP99ByRound), "0.00")} | {cpu} |");
        }
        md.AppendLine();

        md.AppendLine(CultureInfo.InvariantCulture, $"## 2. Throughput (zero event delay, {r.Profile.ThroughputConcurrency} concurrent, {r.Profile.ThroughputWindow.TotalSeconds:0} s rounds)");
        md.AppendLine();
        ThroughputTable(md, r.Throughput);
        if (r.H2LoadThroughput.Count > 0)
        {
            md.AppendLine("Cross-check with h2load (nghttp2, HTTP/1.1, same connections and rounds) as the client instead of the .NET load generator:");
            md.AppendLine();
            ThroughputTable(md, r.H2LoadThroughput);
        }
        if (r.SideBySide.Count > 0)
        {
            md.AppendLine("Side by side: the gateway and bare YARP under h2load at the same moment (each with the connections above), so that a slow spell of the " +
                "machine falls on both; each side's CPU per stream reads higher than alone (the two share the cores), and their ratio is the figure:");
            md.AppendLine();
            md.AppendLine("| round | gateway streams/s | gateway CPU per stream, µs | yarp streams/s | yarp CPU per stream, µs | gateway / yarp |");
            md.AppendLine("|---:|---:|---:|---:|---:|---:|");
            for (var i = 0; i < r.SideBySide.Count; i++)
            {
                var round = r.SideBySide[i];
                md.AppendLine(CultureInfo.InvariantCulture,
                    $"| {i + 1} | {F(round.GatewayStreamsPerSecond, "0")} | {F(round.GatewayCpuUsPerStream, "0")} | {F(round.YarpStreamsPerSecond, "0")} | {F(round.YarpCpuUsPerStream, "0")} | {F(round.CpuRatio)}× |");
            }
            md.AppendLine();
        }

        md.AppendLine("## 3. Scale (streams held open after their first event)");
        md.AppendLine();
        md.AppendLine("Largest level first, on proxies that held no streams before it; each smaller level's RSS before holds what the larger ones left (pooled buffers, a grown heap), so it reads low.");
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
        if (r.BaselineSoak.Count > 0)
        {
            md.AppendLine().AppendLine($"A/B baseline ({Scenarios.BaselineName}), same soak:").AppendLine();
            md.AppendLine("| streams done | RSS (MiB) | live heap (MiB) | allocated per stream (KiB) |").AppendLine("|---:|---:|---:|---:|");
            foreach (var point in r.BaselineSoak)
                md.AppendLine(CultureInfo.InvariantCulture,
                    $"| {point.Streams} | {F(point.RssBytes / 1048576.0, "0")} | {F(point.LiveHeapBytes / 1048576.0, "0.0")} | {F(point.AllocatedBytesPerStream / 1024, "0.0")} |");
        }
        md.AppendLine();

        md.AppendLine("## 4. Large bodies (ms)");
        md.AppendLine();
        TableAgainstDirect(md, "| scenario | via | p50 | min | overhead p50 | overhead p50 round by round, median (min–max) | failed |", "|---|---|---:|---:|---:|---:|---:|",
            r.LargeBodies, static row => row.Target, static row => row.Scenario, static (row, direct) => string.Create(CultureInfo.InvariantCulture,
                $"| {row.Scenario} | {row.Target} | {F(row.P50Ms)} | {F(row.MinMs)} | {Over(row.Target, row.P50Ms, direct.P50Ms)} | " +
                $"{(row.Target == "direct" ? "" : Spread(RoundOverheads(row.P50MsByRound, direct.P50MsByRound), "0.00"))} | {row.Failures} |"));
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

    /// <summary>
    /// A table whose overhead cells set each row against direct's row of the same group (the same concurrency,
    /// the same scenario): <paramref name="line"/> gets the row and that direct row.
    /// </summary>
    private static void TableAgainstDirect<TRow, TGroup>(StringBuilder md, string header, string alignment, List<TRow> rows,
        Func<TRow, string> target, Func<TRow, TGroup> group, Func<TRow, TRow, string> line)
    {
        md.AppendLine(header);
        md.AppendLine(alignment);
        foreach (var row in rows)
        {
            var direct = rows.Single(d => EqualityComparer<TGroup>.Default.Equals(group(d), group(row)) && target(d) == "direct");
            md.AppendLine(line(row, direct));
        }
    }

    private static void ThroughputTable(StringBuilder md, List<ThroughputRow> rows)
    {
        md.AppendLine("| via | streams/s median (min–max) | vs first row | failed | proxy CPU per stream, µs, median (min–max) | proxy context switches per stream | load-gen CPU |");
        md.AppendLine("|---|---:|---:|---:|---:|---:|---:|");
        var baseline = rows.FirstOrDefault()?.Median ?? double.NaN;
        foreach (var row in rows)
            md.AppendLine(CultureInfo.InvariantCulture,
                $"| {row.Target} | {Spread(row.StreamsPerSecond)} | {F(row.Median / baseline, "0.00")}× | {row.Failures} | {Spread(row.ProxyCpuUsPerStream)} | {Spread(row.ProxySwitchesPerStream, "0.0")} | {(double.IsNaN(row.LoadGeneratorCpu) ? "h2load" : row.LoadGeneratorCpu.ToString("P0", CultureInfo.InvariantCulture))} |");
        md.AppendLine();
    }

    /// <summary>A target's per-round figures minus direct's in the same rounds (the rounds alternate, so round i of each ran side by side).</summary>
    private static double[] RoundOverheads(double[] target, double[] direct) => [.. target.Zip(direct, static (t, d) => t - d)];

    private static double Median(double[] rounds) => Percentile.Of(rounds, 50);

    /// <summary>
    /// Below this an overhead of nginx's is inside the noise (it comes out at or below zero, too), so the targets that are
    /// ratios to it (3 and 5) count it as this much.
    /// </summary>
    private const double NoiseFloorMs = 1;

    private static double AboveNoise(double nginxOverheadMs) => Math.Max(nginxOverheadMs, NoiseFloorMs);

    /// <summary>"median (min–max)" of per-round figures; "–" for none.</summary>
    private static string Spread(double[] rounds, string format = "0") => rounds.Length == 0 ? "–"
        : rounds.Length == 1 ? F(rounds[0], format)
        : $"{F(Median(rounds), format)} ({F(rounds.Min(), format)}–{F(rounds.Max(), format)})";

    /// <summary>Issue 11's targets, each with what this run measured; "n/a" where this profile cannot judge it.</summary>
    public static IEnumerable<(string Name, string Measured, bool? Met)> Targets(BenchResults r)
    {
        var full = r.Profile.Name == "full";
        ThroughputRow? Rate(List<ThroughputRow> rows, string target) => rows.FirstOrDefault(t => t.Target == target);

        if (Rate(r.Throughput, "gateway") is { } gatewayCpu && Rate(r.Throughput, "yarp") is { } yarpCpu)
        {
            var ratio = gatewayCpu.CpuMedian / yarpCpu.CpuMedian;
            var (g2, y2) = (Rate(r.H2LoadThroughput, "gateway"), Rate(r.H2LoadThroughput, "yarp"));
            double? h2Ratio = g2 is not null && y2 is not null ? g2.CpuMedian / y2.CpuMedian : null;
            var h2 = h2Ratio is { } cross ? $"; h2load: {F(cross)}× ({F(g2!.CpuMedian, "0")} vs {F(y2!.CpuMedian, "0")} µs)" : "";
            double[] sideBySide = [.. r.SideBySide.Select(round => round.CpuRatio)];
            var both = sideBySide.Length switch
            {
                0 => "",
                1 => $"; side by side: {F(sideBySide[0])}× in 1 round",
                _ => $"; side by side: {F(Median(sideBySide))}× ({F(sideBySide.Min())}–{F(sideBySide.Max())}) over {sideBySide.Length} rounds",
            };
            // Met only where the cross-checks agree: on shared cores one client's rounds can catch a slow spell of one target.
            yield return ("1. gateway CPU per stream ≤ 2× the bare YARP pass-through",
                $"{F(ratio)}× ({F(gatewayCpu.CpuMedian, "0")} vs {F(yarpCpu.CpuMedian, "0")} µs){h2}{both}",
                full ? ratio <= 2 && (h2Ratio ?? 0) <= 2 && (sideBySide.Length == 0 || Median(sideBySide) <= 2) : null);
        }
        if (Rate(r.Throughput, "gateway") is { } gatewayRate && Rate(r.Throughput, "nginx") is { } nginxRate)
        {
            var ratio = gatewayRate.Median / nginxRate.Median;
            var (g2, n2) = (Rate(r.H2LoadThroughput, "gateway"), Rate(r.H2LoadThroughput, "nginx"));
            double? h2Ratio = g2 is not null && n2 is not null ? g2.Median / n2.Median : null;
            var h2 = h2Ratio is { } cross ? $"; h2load: {F(cross)}× ({F(g2!.Median, "0")} vs {F(n2!.Median, "0")})" : "";
            yield return ("2. streams/s ≥ 0.5× nginx (zero event delay)", $"{F(ratio)}× ({F(gatewayRate.Median, "0")} vs {F(nginxRate.Median, "0")}){h2}",
                full ? ratio >= 0.5 && (h2Ratio ?? 1) >= 0.5 : null);
        }

        var top = r.Latency.Select(l => l.Concurrency).DefaultIfEmpty(0).Max();
        var direct = r.Latency.FirstOrDefault(l => l.Concurrency == top && l.Target == "direct");
        var gateway = r.Latency.FirstOrDefault(l => l.Concurrency == top && l.Target == "gateway");
        var nginx = r.Latency.FirstOrDefault(l => l.Concurrency == top && l.Target == "nginx");
        if (direct is not null && gateway is not null && nginx is not null)
        {
            // Each round's overhead against direct's same round; the median of the rounds is judged, its spread shown.
            static double Bound(double nginxOverhead) => 2 * AboveNoise(nginxOverhead);
            var (p50, p99) = (RoundOverheads(gateway.FirstP50ByRound, direct.FirstP50ByRound), RoundOverheads(gateway.FirstP99ByRound, direct.FirstP99ByRound));
            var (n50, n99) = (RoundOverheads(nginx.FirstP50ByRound, direct.FirstP50ByRound), RoundOverheads(nginx.FirstP99ByRound, direct.FirstP99ByRound));
            yield return ($"3. TTFB overhead at {top} streams ≤ 2× nginx's, p50 and p99",
                $"p50 {Spread(p50, "0.00")} ms vs nginx {Spread(n50, "0.00")} ms; p99 {Spread(p99, "0.00")} ms vs nginx {Spread(n99, "0.00")} ms " +
                $"(medians (min–max) of {p50.Length} rounds)",
                top >= 500 ? Median(p50) <= Bound(Median(n50)) && Median(p99) <= Bound(Median(n99)) : null);
        }

        if (r.Soak.Count > 0)
        {
            var allocated = Percentile.Of(r.Soak.Select(p => p.AllocatedBytesPerStream / 1024), 50);
            yield return ("4a. ≤ 10 KiB allocated per stream", $"{F(allocated, "0.0")} KiB (median of {r.Soak.Count} soak checkpoints)", full ? allocated <= 10 : null);
        }
        var largest = r.Scale.Where(s => s.Target == "gateway").MaxBy(s => s.Streams);
        if (largest is not null)
        {
            var nginxOpen = r.Scale.FirstOrDefault(s => s.Target == "nginx" && s.Streams == largest.Streams);
            // Where the open-file limit cannot hold 10 000 proxied streams (two sockets each), the largest level it can is judged, and said.
            var capped = OpenFiles.MaxProxiedStreams < 10_000;
            yield return ($"4b. ≤ 16 KiB of memory per open stream at 10 000 open",
                $"{F(largest.KiBPerStream, "0.0")} KiB at {largest.Streams} open{(nginxOpen is null ? "" : $" (nginx {F(nginxOpen.KiBPerStream, "0.0")})")}" +
                (capped ? $"; this machine's open-file limit ({OpenFiles.Limit}) holds at most {OpenFiles.MaxProxiedStreams} proxied streams" : ""),
                largest.Streams >= Math.Min(10_000, OpenFiles.MaxProxiedStreams) ? largest.KiBPerStream <= 16 : null);
        }

        var big = r.LargeBodies.Where(l => l.Scenario.StartsWith("request", StringComparison.Ordinal)).ToArray();
        if (big.FirstOrDefault(b => b.Target == "gateway") is { } bigGateway && big.FirstOrDefault(b => b.Target == "direct") is { } bigDirect
            && big.FirstOrDefault(b => b.Target == "nginx") is { } bigNginx)
        {
            // The median of the rounds' overheads against direct's same round, as for target 3.
            var (overheads, nginxOverheads) = (RoundOverheads(bigGateway.P50MsByRound, bigDirect.P50MsByRound), RoundOverheads(bigNginx.P50MsByRound, bigDirect.P50MsByRound));
            var (overhead, nginxOverhead) = (Median(overheads), Median(nginxOverheads));
            var floor = AboveNoise(nginxOverhead);
            yield return ($"5. {r.Profile.LargeRequestBase64Bytes / 1048576.0:0.#} MiB inline-audio request adds ≤ 3× nginx's overhead to the first event",
                $"{Spread(overheads, "0.00")} ms vs nginx {Spread(nginxOverheads, "0.00")} ms ({F(overhead / floor, "0.0")}×{(nginxOverhead < NoiseFloorMs ? $" nginx's {NoiseFloorMs:0} ms floor" : "")}; " +
                $"medians (min–max) of {overheads.Length} rounds)",
                full ? overhead <= 3 * floor : null);
        }

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
        series.Add(("yarp p50", (t, d) => t.FirstP50 - d.FirstP50));
        series.Add(("yarp p99", (t, d) => t.FirstP99 - d.FirstP99));
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
