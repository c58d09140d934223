using BenchmarkDotNet.Attributes;

namespace OmniGateway.Bench.Micro;

/// <summary>
/// The usage reader's cost per event — scan, classify, and the JSON read of the few events that need
/// one — as the relay pump does it over a stream that arrived in one read (so reads and flushes are
/// few and the per-event work dominates).
/// </summary>
[MemoryDiagnoser]
public class UsageReaderBenchmarks
{
    private readonly RelayHarness _relay = new();
    private ReplayUpstream _textAudio = null!; // set in Setup
    private ReplayUpstream _deltas = null!;

    [GlobalSetup]
    public void Setup()
    {
        _textAudio = OneRead(BenchSamples.TextAudioStream());
        _deltas = OneRead(BenchSamples.DeltaStream());
    }

    /// <summary>The recorded sample: created and completed are parsed, so this per-event mean includes both reads spread over 31 events.</summary>
    [Benchmark(OperationsPerInvoke = BenchSamples.TextAudioEvents)]
    public ValueTask<TapResult> TextAudioStreamPerEvent() => _relay.RelayAsync(_textAudio);

    /// <summary>The bulk of any long answer: ordinary deltas, which must cost a scan and a classify and allocate nothing.</summary>
    [Benchmark(OperationsPerInvoke = BenchSamples.DeltaEvents)]
    public ValueTask<TapResult> DeltaEventsPerEvent() => _relay.RelayAsync(_deltas);

    private static ReplayUpstream OneRead(byte[] stream) => new(stream, [stream.Length], ReplayUpstream.EverySegment(stream.Length, 16 * 1024));
}
