using BenchmarkDotNet.Attributes;

namespace OmniGateway.Bench.Micro;

public enum ReadPattern
{
    /// <summary>A live upstream flushing each event as generated: read, scan, write and flush per event.</summary>
    OneEventPerRead,

    /// <summary>A backlog read 4 KB at a time (SseRelay's minimum read), so reads cut events and events span segments.</summary>
    FourKilobyteReads,
}

/// <summary>
/// The relay's hot path per relayed event, end to end without HTTP (see <see cref="RelayLoop"/>). The
/// issue's target: zero bytes allocated per non-terminal event, which the delta stream measures.
/// </summary>
[MemoryDiagnoser]
public class RelayHotPathBenchmarks
{
    private readonly RelayLoop _loop = new();
    private byte[] _textAudio = [];
    private byte[] _deltas = [];
    private int[] _textAudioReads = [];
    private int[] _deltaReads = [];

    [Params(ReadPattern.OneEventPerRead, ReadPattern.FourKilobyteReads)]
    public ReadPattern Reads { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _textAudio = BenchSamples.TextAudioStream();
        _deltas = BenchSamples.DeltaStream();
        _textAudioReads = ReadEnds(_textAudio);
        _deltaReads = ReadEnds(_deltas);
    }

    [Benchmark(OperationsPerInvoke = BenchSamples.TextAudioEvents)]
    public ValueTask<TapResult> TextAudioStreamPerEvent() => _loop.RelayAsync(_textAudio, _textAudioReads);

    [Benchmark(OperationsPerInvoke = BenchSamples.DeltaEvents)]
    public ValueTask<TapResult> DeltaEventsPerEvent() => _loop.RelayAsync(_deltas, _deltaReads);

    private int[] ReadEnds(byte[] stream) => Reads == ReadPattern.OneEventPerRead
        ? RelayLoop.OneEventPerRead(stream)
        : RelayLoop.FixedSizeReads(stream, 4 * 1024);
}
