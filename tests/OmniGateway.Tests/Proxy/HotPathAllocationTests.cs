using System.Buffers;
using System.Text;
using OmniGateway.Bench.Micro;
using OmniGateway.Proxy;
using static OmniGateway.Tests.Proxy.SseTestKit;

namespace OmniGateway.Tests.Proxy;

/// <summary>
/// The relay's promise for long answers: an ordinary event costs no garbage, so a thousand-event stream
/// does not feed the GC a thousand times over while other streams wait. Counted, not timed: bytes
/// allocated on this thread are deterministic where nanoseconds are not.
/// </summary>
public sealed class HotPathAllocationTests
{
    private const int Events = 4096;

    public static TheoryData<string, string, bool> Framings => new()
    {
        { "event line", "LF", false },
        { "event line", "CRLF", true },
        { "data only", "LF", true },
        { "data only", "CR", false },
    };

    [Theory, MemberData(nameof(Framings))]
    public void ScanningAndClassifyingDeltaEvents_AllocatesNothingPerEvent(string framing, string ending, bool segmented)
    {
        var bytes = WithLineEnding(framing == "data only" ? WithoutEventLines(BenchSamples.DeltaStream(Events)) : BenchSamples.DeltaStream(Events), ending);
        // 4 KB segments: events split across segments take SequenceReader's multi-segment paths.
        var stream = segmented ? Split(bytes, [.. Enumerable.Range(1, (bytes.Length - 1) / 4096).Select(i => i * 4096)]) : new ReadOnlySequence<byte>(bytes);

        ScanAndClassify(stream); // warm-up: first calls may JIT, load types and initialise statics
        var before = GC.GetAllocatedBytesForCurrentThread();
        var (count, ordinary) = ScanAndClassify(stream);
        var allocated = GC.GetAllocatedBytesForCurrentThread() - before;

        Assert.Equal(Events, count);
        Assert.Equal(Events, ordinary);
        // Exactly zero, not a small bound: one object per event would be 4096 objects here, and any per-event leak shows.
        Assert.Equal(0, allocated);
    }

    [Theory]
    [InlineData(ReadPattern.OneEventPerRead)]
    [InlineData(ReadPattern.FourKilobyteReads)]
    public void RelayingDeltaEvents_ThroughTheGatewaysRelayPump_AllocatesNothing(ReadPattern reads)
    {
        var stream = BenchSamples.DeltaStream(Events);
        var upstream = RelayHotPathBenchmarks.Replay(stream, reads);
        var relay = new RelayHarness();
        // The per-stream deadline is made outside the count, as the forwarder makes it once per call.
        using var deadline = RelayHarness.NewDeadline();
        Relay(relay, upstream, deadline); // warm-up: the client pipe rents its segments once, then reuses them

        // The fewest bytes of three runs: a gen2 GC from a test running beside this one trims ArrayPool.Shared,
        // and the next run then rents one fresh 8 KB segment. An allocation in the loop shows in every run.
        long allocated = long.MaxValue;
        TapResult result = default;
        for (var run = 0; run < 3 && allocated > 0; run++)
        {
            var before = GC.GetAllocatedBytesForCurrentThread();
            result = Relay(relay, upstream, deadline);
            allocated = Math.Min(allocated, GC.GetAllocatedBytesForCurrentThread() - before);
        }

        Assert.Equal(Events, result.Events);
        Assert.Equal(stream.Length, result.RelayedBytes);
        // Zero for the whole stream, reads and flushes included: this is SseRelay.RelayAsync itself, so any
        // allocation added to the gateway's loop (per event, per read or per stream) fails here.
        Assert.Equal(0, allocated);
    }

    private static TapResult Relay(RelayHarness relay, ReplayUpstream upstream, OmniGateway.Proxy.UpstreamDeadline deadline)
    {
        var pending = relay.RelayAsync(upstream, deadline);
        // Neither end ever waits, so the run completes on this thread; were it pending, the per-thread count would be void.
        if (pending.IsCompletedSuccessfully) return pending.Result;
        throw new Xunit.Sdk.XunitException("The relay went asynchronous; its allocations were not all counted on this thread.");
    }

    private static (int Count, int Ordinary) ScanAndClassify(in ReadOnlySequence<byte> stream)
    {
        var scanner = new SseEventScanner();
        long position = 0;
        int count = 0, ordinary = 0;
        while (scanner.TryFindEventEnd(stream.Slice(position), isFinal: true, out var length))
        {
            if (SseFraming.Classify(stream.Slice(position, length)) == SseEventKind.Other) ordinary++;
            position += length;
            count++;
        }
        return (count, ordinary);
    }

    /// <summary>The same events as an upstream that omits <c>event:</c> lines sends them: the type must then be read from the JSON.</summary>
    private static byte[] WithoutEventLines(byte[] stream)
    {
        var lines = Encoding.UTF8.GetString(stream).Split('\n').Where(line => !line.StartsWith("event:", StringComparison.Ordinal));
        return Encoding.UTF8.GetBytes(string.Join('\n', lines));
    }
}
