using System.Diagnostics;
using OmniGateway.Bench;

// OmniGateway.Bench run [--smoke] [--warmup SECONDS] [--out FOLDER] [--only SCENARIOS] [--scale LEVELS] [--soak STREAMS]
//                                                  every scenario; results to FOLDER (default bench/results);
//                                                  warm-up per target before any measured round (full: 30 s)
// OmniGateway.Bench upstream PORT                  the fake upstream alone (the run starts it itself, on port 0:
//                                                  it prints "Now listening on: URL")
switch (args.FirstOrDefault())
{
    case "upstream" when args.Length == 2 && int.TryParse(args[1], out var port):
        await BenchUpstream.RunAsync(port);
        return 0;
    case "run":
        var profile = args.Contains("--smoke") ? BenchProfile.Smoke : BenchProfile.Full;
        var warmIndex = Array.IndexOf(args, "--warmup");
        if (warmIndex >= 0 && warmIndex + 1 < args.Length && double.TryParse(args[warmIndex + 1], System.Globalization.CultureInfo.InvariantCulture, out var warm))
            profile = profile with { WarmUp = TimeSpan.FromSeconds(warm) };
        // A/B runs of one change: --only throughput,h2load (warm-up always runs unless left out by name: --only scale,nowarmup).
        var onlyIndex = Array.IndexOf(args, "--only");
        if (onlyIndex >= 0 && onlyIndex + 1 < args.Length)
            profile = profile with { Only = args[onlyIndex + 1].Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).ToHashSet(StringComparer.OrdinalIgnoreCase) };
        var scaleIndex = Array.IndexOf(args, "--scale");
        if (scaleIndex >= 0 && scaleIndex + 1 < args.Length)
            profile = profile with { ScaleLevels = args[scaleIndex + 1].Split(',').Select(int.Parse).ToArray() };
        var soakIndex = Array.IndexOf(args, "--soak");
        if (soakIndex >= 0 && soakIndex + 1 < args.Length)
            profile = profile with { SoakStreams = int.Parse(args[soakIndex + 1], System.Globalization.CultureInfo.InvariantCulture) };
        var outIndex = Array.IndexOf(args, "--out");
        var folder = outIndex >= 0 && outIndex + 1 < args.Length ? args[outIndex + 1] : Path.Combine(BuildOutput.RepoRoot(), "bench", "results");
        var clock = Stopwatch.StartNew();
        var results = await BenchRun.RunAsync(profile, line => Console.Error.WriteLine($"[{clock.Elapsed:mm\\:ss}] {line}"));
        Console.WriteLine(Report.Write(results, folder, clock.Elapsed));
        Console.Error.WriteLine($"results: {Path.GetFullPath(folder)}/{Report.MarkdownFile}, {Report.ChartFile}");
        return 0;
    default:
        Console.Error.WriteLine("usage: OmniGateway.Bench run [--smoke] [--warmup SECONDS] [--out FOLDER] [--only warmup,firstbyte,latency,throughput,h2load,large,scale,soak,ledger] [--scale 100,10000] [--soak 20000] | upstream PORT");
        return 2;
}
