using BenchmarkDotNet.Attributes;

namespace OmniGateway.Bench.Micro;

public enum ReadPattern
{
    /// <summary>A live upstream flushing each event as generated: read, scan, write and flush per event.</summary>
    OneEventPerRead,

    /// <summary>A backlog read 4 KB at a time, so reads cut events and events span segments.</summary>
    FourKilobyteReads,
}

/// <summary>
/// The relay's hot path per relayed event, end to end without HTTP: the gateway's own pump
/// (see <see cref="RelayHarness"/>), a fresh deadline per stream as the forwarder makes. The issue's
/// target: zero bytes allocated per non-terminal event, which the delta stream measures.
/// </summary>
[MemoryDiagnoser]
public class RelayHotPathBenchmarks
{
    private readonly RelayHarness _relay = new();
    private ReplayUpstream _textAudio = null!; // set in Setup
    private ReplayUpstream _deltas = null!;

    [Params(ReadPattern.OneEventPerRead, ReadPattern.FourKilobyteReads)]
    public ReadPattern Reads { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _textAudio = Replay(BenchSamples.TextAudioStream(), Reads);
        _deltas = Replay(BenchSamples.DeltaStream(), Reads);
    }

    [Benchmark(OperationsPerInvoke = BenchSamples.TextAudioEvents)]
    public ValueTask<TapResult> TextAudioStreamPerEvent() => _relay.RelayAsync(_textAudio);

    [Benchmark(OperationsPerInvoke = BenchSamples.DeltaEvents)]
    public ValueTask<TapResult> DeltaEventsPerEvent() => _relay.RelayAsync(_deltas);

    /// <summary>The stream in <paramref name="reads"/>, its buffer in 16 KB segments (the relay's pipe's minimum read) so events straddle them.</summary>
    public static ReplayUpstream Replay(byte[] stream, ReadPattern reads) => new(stream,
        reads == ReadPattern.OneEventPerRead ? ReplayUpstream.OneEventPerRead(stream) : ReplayUpstream.FixedSizeReads(stream, 4 * 1024),
        ReplayUpstream.EverySegment(stream.Length, 16 * 1024));
}
