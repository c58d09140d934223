using System.Diagnostics;
using OmniGateway.Bench;

// OmniGateway.Bench run [--smoke] [--out FOLDER]   every scenario; results to FOLDER (default bench/results)
// OmniGateway.Bench upstream PORT                  the fake upstream alone (the run starts it itself)
switch (args.FirstOrDefault())
{
    case "upstream" when args.Length == 2 && int.TryParse(args[1], out var port):
        await BenchUpstream.RunAsync(port);
        return 0;
    case "run":
        var profile = args.Contains("--smoke") ? BenchProfile.Smoke : BenchProfile.Full;
        var outIndex = Array.IndexOf(args, "--out");
        var folder = outIndex >= 0 && outIndex + 1 < args.Length ? args[outIndex + 1] : Path.Combine(Launch.RepoRoot(), "bench", "results");
        var clock = Stopwatch.StartNew();
        var results = await BenchRun.RunAsync(profile, line => Console.Error.WriteLine($"[{clock.Elapsed:mm\\:ss}] {line}"));
        Console.WriteLine(Report.Write(results, folder, clock.Elapsed));
        Console.Error.WriteLine($"results: {Path.GetFullPath(folder)}/{Report.MarkdownFile}, {Report.ChartFile}");
        return 0;
    default:
        Console.Error.WriteLine("usage: OmniGateway.Bench run [--smoke] [--out FOLDER] | upstream PORT");
        return 2;
}
