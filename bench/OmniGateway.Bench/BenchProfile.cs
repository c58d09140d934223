using System.Text;

namespace OmniGateway.Bench;

public sealed record LatencyPlan(int Concurrency, int StreamsPerWorker);

/// <summary>How much of each scenario to run: <see cref="Full"/> for the README's numbers, <see cref="Smoke"/> for the test suite.</summary>
public sealed record BenchProfile(
    string Name,
    TimeSpan WarmUp,
    int FirstByteCalls,
    LatencyPlan[] Latency,
    int Rounds,
    TimeSpan ThroughputWindow,
    int ThroughputConcurrency,
    int[] ScaleLevels,
    int SoakStreams,
    int LargeBodyIterations,
    int LargeBodyRounds,
    int SideBySideRounds,
    int LargeRequestBase64Bytes,
    int LargeAudioEventBytes)
{
    /// <summary>Scenarios to run (<c>--only</c>): warmup, firstbyte, latency, throughput, h2load, sidebyside, large, scale, soak, ledger; null = all.</summary>
    public IReadOnlySet<string>? Only { get; init; }

    public bool Runs(string scenario) => Only is null || Only.Contains(scenario);

    /// <summary>The JIT (tiered PGO) takes ~25 s to settle on two busy cores: any figure taken earlier is warm-up.</summary>
    public static BenchProfile Full => new("full",
        WarmUp: TimeSpan.FromSeconds(30),
        FirstByteCalls: 1_000,
        Latency: [new(1, 15), new(50, 4), new(500, 2)],
        Rounds: 3,
        ThroughputWindow: TimeSpan.FromSeconds(5),
        ThroughputConcurrency: 32,
        ScaleLevels: [100, 1_000, 5_000, 10_000],
        SoakStreams: 100_000,
        LargeBodyIterations: 30, // 10 calls per target left the p50 moving by 5 ms from run to run on two shared cores
        // Rounds are cheap here (~1.5 s each), and nginx's overhead is a millisecond or two that one round can halve or
        // double: nine steady a run's median. They do not settle target 5 across runs: nginx's median moved from 0.0 to
        // 2.1 ms between two runs of nine (2026-12-07), while the gateway's stayed beside bare YARP's.
        LargeBodyRounds: 9,
        // bench/ab.sh's calibration: two identical builds side by side read 0.964–1.054 per round over eight; six steady
        // the median at ~35 s.
        SideBySideRounds: 6,
        LargeRequestBase64Bytes: 9 * 1024 * 1024,
        LargeAudioEventBytes: 5 * 1024 * 1024);

    public static BenchProfile Smoke => new("smoke",
        WarmUp: TimeSpan.FromSeconds(1),
        FirstByteCalls: 20,
        Latency: [new(1, 3), new(10, 2)],
        Rounds: 1,
        ThroughputWindow: TimeSpan.FromSeconds(1),
        ThroughputConcurrency: 8,
        ScaleLevels: [20],
        SoakStreams: 400,
        LargeBodyIterations: 2,
        LargeBodyRounds: 1,
        SideBySideRounds: 1,
        LargeRequestBase64Bytes: 1024 * 1024,
        LargeAudioEventBytes: 512 * 1024);
}

/// <summary>Request bodies as frontends send them: a spoken answer to a short text question, or to inline audio.</summary>
public static class RequestBodies
{
    public static byte[] TextQuestion { get; } = Encoding.UTF8.GetBytes("""
        {"model":"qwen3.5-omni-plus-all","input":[{"role":"user","content":[{"type":"input_text","text":"这段音频在说什么? Summarise the weekend plan in two sentences."}]}],
         "stream":true,"modalities":["text","audio"],"audio":{"voice":"Tina","format":"wav"}}
        """);

    /// <summary>A WAV (RIFF header, then noise) inline as base64 of about <paramref name="base64Bytes"/> characters.</summary>
    public static byte[] InlineAudioQuestion(int base64Bytes)
    {
        var wav = new byte[base64Bytes / 4 * 3];
        new Random(7).NextBytes(wav);
        "RIFF"u8.CopyTo(wav);
        BitConverter.TryWriteBytes(wav.AsSpan(4), wav.Length - 8);
        "WAVEfmt "u8.CopyTo(wav.AsSpan(8));
        var json = $$$"""
            {"model":"qwen3.5-omni-plus-all","input":[{"role":"user","content":[{"type":"input_audio","input_audio":{"data":"data:audio/wav;base64,{{{Convert.ToBase64String(wav)}}}","format":"wav"}},{"type":"text","text":"What is said here?"}]}],
             "stream":true,"modalities":["text","audio"],"audio":{"voice":"Tina","format":"wav"}}
            """;
        return Encoding.UTF8.GetBytes(json);
    }
}
