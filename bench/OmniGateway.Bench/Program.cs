using System.Diagnostics;
using OmniGateway.Bench;

// OmniGateway.Bench run [--smoke] [--warmup SECONDS] [--out FOLDER]
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
        var outIndex = Array.IndexOf(args, "--out");
        var folder = outIndex >= 0 && outIndex + 1 < args.Length ? args[outIndex + 1] : Path.Combine(BuildOutput.RepoRoot(), "bench", "results");
        var clock = Stopwatch.StartNew();
        var results = await BenchRun.RunAsync(profile, line => Console.Error.WriteLine($"[{clock.Elapsed:mm\\:ss}] {line}"));
        Console.WriteLine(Report.Write(results, folder, clock.Elapsed));
        Console.Error.WriteLine($"results: {Path.GetFullPath(folder)}/{Report.MarkdownFile}, {Report.ChartFile}");
        return 0;
    default:
        Console.Error.WriteLine("usage: OmniGateway.Bench run [--smoke] [--warmup SECONDS] [--out FOLDER] | upstream PORT");
        return 2;
}
