using System.Buffers;
using BenchmarkDotNet.Attributes;

namespace OmniGateway.Bench.Micro;

/// <summary>The usage reader's cost per event (scan, classify, and the JSON read of the few events that need one).</summary>
[MemoryDiagnoser]
public class UsageReaderBenchmarks
{
    private ReadOnlySequence<byte> _textAudio;
    private ReadOnlySequence<byte> _deltas;

    [GlobalSetup]
    public void Setup()
    {
        _textAudio = new ReadOnlySequence<byte>(BenchSamples.TextAudioStream());
        _deltas = new ReadOnlySequence<byte>(BenchSamples.DeltaStream());
    }

    /// <summary>The recorded sample: created and completed are parsed, so this per-event mean includes both reads spread over 31 events.</summary>
    [Benchmark(OperationsPerInvoke = BenchSamples.TextAudioEvents)]
    public TapResult TextAudioStreamPerEvent() => UsageTap.Read(_textAudio);

    /// <summary>The bulk of any long answer: ordinary deltas, which must cost a scan and a classify and allocate nothing.</summary>
    [Benchmark(OperationsPerInvoke = BenchSamples.DeltaEvents)]
    public TapResult DeltaEventsPerEvent() => UsageTap.Read(_deltas);
}
