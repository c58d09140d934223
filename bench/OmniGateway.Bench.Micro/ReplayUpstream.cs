using System.Buffers;
using System.IO.Pipelines;

namespace OmniGateway.Bench.Micro;

/// <summary>
/// The network side of a relay without a network: a <see cref="PipeReader"/> over a recorded stream
/// that hands it out in reads ending at given offsets, as a socket would, synchronously and without
/// allocating. The last read is the final one (<see cref="ReadResult.IsCompleted"/>). The stream's
/// buffer is a chain of segments cut where the caller says, so events straddle segments as they do
/// in the gateway's pipe. Reusable: <see cref="Reset"/> starts the same stream over.
/// </summary>
public sealed class ReplayUpstream : PipeReader
{
    private readonly ReadOnlySequence<byte> _stream;
    private readonly int[] _readEnds;
    private long _consumed;
    private long _available;

    /// <param name="readEnds">Ascending offsets where each read ends; the last read is final.</param>
    /// <param name="segmentCuts">Ascending offsets where the buffer's segments end.</param>
    public ReplayUpstream(ReadOnlyMemory<byte> stream, int[] readEnds, IEnumerable<int> segmentCuts)
    {
        _stream = Segmented(stream, segmentCuts);
        _readEnds = readEnds;
    }

    /// <summary>Reads handed out so far (the one being processed is <c>Reads - 1</c>).</summary>
    public int Reads { get; private set; }

    public long Length => _stream.Length;

    public void Reset() => (_consumed, _available, Reads) = (0, 0, 0);

    public override ValueTask<ReadResult> ReadAsync(CancellationToken cancellationToken = default) =>
        new(TryRead(out var result) ? result : new ReadResult(default, isCanceled: false, isCompleted: true));

    public override bool TryRead(out ReadResult result)
    {
        if (Reads >= _readEnds.Length)
        {
            result = default;
            return false;
        }
        _available = _readEnds[Reads++];
        result = new ReadResult(_stream.Slice(_consumed, _available - _consumed), isCanceled: false, isCompleted: Reads == _readEnds.Length);
        return true;
    }

    public override void AdvanceTo(SequencePosition consumed) => AdvanceTo(consumed, consumed);

    public override void AdvanceTo(SequencePosition consumed, SequencePosition examined) =>
        _consumed = _stream.Slice(_stream.Start, consumed).Length;

    public override void CancelPendingRead() { }

    public override void Complete(Exception? exception = null) { }

    /// <summary>Read ends for a live upstream, which flushes each event as it is generated: one event per read, then the end.</summary>
    public static int[] OneEventPerRead(byte[] stream) => [.. BenchSamples.SseEvents(stream).Select(e => e.Start + e.Length), stream.Length];

    /// <summary>Read ends for a fast upstream whose events queue up: <paramref name="size"/>-byte reads cutting events anywhere, then the end.</summary>
    public static int[] FixedSizeReads(byte[] stream, int size) =>
        [.. Enumerable.Range(1, (stream.Length + size - 1) / size).Select(i => Math.Min(i * size, stream.Length)), stream.Length];

    /// <summary>Every <paramref name="size"/> bytes: the segment size of the relay's own pipe.</summary>
    public static IEnumerable<int> EverySegment(int length, int size) => Enumerable.Range(1, Math.Max(0, (length - 1) / size)).Select(i => i * size);

    private static ReadOnlySequence<byte> Segmented(ReadOnlyMemory<byte> data, IEnumerable<int> cuts)
    {
        var ends = cuts.Where(c => c > 0 && c < data.Length).Distinct().Order().Append(data.Length).ToArray();
        var first = new Segment(data[..ends[0]], 0);
        var last = first;
        for (var i = 1; i < ends.Length; i++) last = last.Append(data[ends[i - 1]..ends[i]]);
        return new ReadOnlySequence<byte>(first, 0, last, last.Memory.Length);
    }

    private sealed class Segment : ReadOnlySequenceSegment<byte>
    {
        public Segment(ReadOnlyMemory<byte> memory, long runningIndex) => (Memory, RunningIndex) = (memory, runningIndex);

        public Segment Append(ReadOnlyMemory<byte> memory)
        {
            var next = new Segment(memory, RunningIndex + Memory.Length);
            Next = next;
            return next;
        }
    }
}
