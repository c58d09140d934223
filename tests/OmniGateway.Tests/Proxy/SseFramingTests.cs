using System.Buffers;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using OmniGateway.Proxy;
using static OmniGateway.Tests.Proxy.SseTestKit;

namespace OmniGateway.Tests.Proxy;

/// <summary>
/// Every sample stream, split at every byte offset into two and three segments and fed as growing reads:
/// the relay must find exactly the events a plain reading finds, byte for byte, and read the same
/// terminal event and usage as <c>expected.json</c>.
/// </summary>
public sealed class SseFramingTests
{
    private static readonly string[] LineEndings = ["LF", "CRLF", "CR"];

    public static TheoryData<string, string> Streams
    {
        get
        {
            var data = new TheoryData<string, string>();
            foreach (var file in Fixtures.StreamFiles())
                foreach (var ending in LineEndings) data.Add(file, ending);
            return data;
        }
    }

    public static TheoryData<string> StreamFiles => new(Fixtures.StreamFiles());

    [Theory, MemberData(nameof(StreamFiles))]
    public void SampleStream_IsTheOneExpectedJsonDescribes(string file)
    {
        var bytes = Fixtures.Bytes(file);
        var expected = Expected(file);
        Assert.Equal(expected.GetProperty("bytes").GetInt32(), bytes.Length);
        Assert.Equal(expected.GetProperty("sha256").GetString(), Convert.ToHexStringLower(SHA256.HashData(bytes)));
        // With LF endings and no blank line runs, every "\n\n" ends exactly one event.
        var blankLines = Encoding.UTF8.GetString(bytes).Split("\n\n").Length - 1;
        Assert.Equal(blankLines, ReferenceEvents(bytes).Count);
        Assert.Equal(blankLines, ScanFinal(new ReadOnlySequence<byte>(bytes), out var rest).Count);
        Assert.Equal(0, rest);
    }

    [Theory, MemberData(nameof(Streams))]
    public void SampleStream_SplitInTwoAtEveryOffset_FindsEveryEventTerminalAndUsage(string file, string ending)
    {
        var bytes = WithLineEnding(Fixtures.Bytes(file), ending);
        var reference = ReferenceEvents(bytes);
        for (var cut = 0; cut <= bytes.Length; cut++)
        {
            var stream = Split(bytes, cut);
            var events = ScanFinal(stream, out var rest);
            AssertSameEvents(bytes, reference, events, rest, $"{file} {ending} cut {cut}");
            AssertTerminal(file, stream, events, $"cut {cut}");

            var pumped = Pump(bytes, [cut, bytes.Length, bytes.Length], out rest);
            AssertSameEvents(bytes, reference, pumped, rest, $"{file} {ending} reads [{cut}, end, final]");
            AssertEachEventRelayedOnArrival(bytes, pumped, [cut, bytes.Length, bytes.Length]);
        }
    }

    [Theory, MemberData(nameof(Streams))]
    public void SampleStream_SplitInThreeAtEveryOffset_FindsEveryEventTerminalAndUsage(string file, string ending)
    {
        var bytes = WithLineEnding(Fixtures.Bytes(file), ending);
        var reference = ReferenceEvents(bytes);
        for (var cut = 0; cut < bytes.Length; cut++)
        {
            // A one-byte middle segment (a CR alone, half a multibyte character) and a far one.
            foreach (var other in new[] { cut + 1, (cut + bytes.Length / 2) % bytes.Length })
            {
                int[] cuts = [Math.Min(cut, other), Math.Max(cut, other)];
                var stream = Split(bytes, cuts);
                var events = ScanFinal(stream, out var rest);
                AssertSameEvents(bytes, reference, events, rest, $"{file} {ending} cuts {cuts[0]},{cuts[1]}");
                AssertTerminal(file, stream, events, $"cuts {cuts[0]},{cuts[1]}");

                int[] reads = [cuts[0], cuts[1], bytes.Length, bytes.Length];
                var pumped = Pump(bytes, reads, out rest);
                AssertSameEvents(bytes, reference, pumped, rest, $"{file} {ending} reads {cuts[0]},{cuts[1]}");
                AssertEachEventRelayedOnArrival(bytes, pumped, reads);
            }
        }
    }

    [Theory, MemberData(nameof(Streams))]
    public void SampleStream_ReadByteByByte_RelaysEachEventAsSoonAsItsBlankLineArrives(string file, string ending)
    {
        var bytes = WithLineEnding(Fixtures.Bytes(file), ending);
        int[] reads = [.. Enumerable.Range(1, bytes.Length), bytes.Length];
        // One contiguous buffer per read: a pipe coalesces, and 1-byte segments would make this quadratic.
        var pumped = Pump(bytes, reads, out var rest, segmentAtReads: false);
        AssertSameEvents(bytes, ReferenceEvents(bytes), pumped, rest, $"{file} {ending} byte by byte");
        var relayed = pumped.SelectMany(e => bytes.AsSpan((int)e.Start, (int)e.Length).ToArray()).ToArray();
        Assert.Equal(bytes, relayed);
        AssertEachEventRelayedOnArrival(bytes, pumped, reads);
    }

    [Theory, MemberData(nameof(Streams))]
    public void SampleStream_EveryEventIsClassifiedAsAPlainReadingWould(string file, string ending)
    {
        var bytes = WithLineEnding(Fixtures.Bytes(file), ending);
        var events = ScanFinal(new ReadOnlySequence<byte>(bytes), out _);
        Assert.NotEmpty(events);
        foreach (var found in events)
        {
            var sseEvent = new ReadOnlySequence<byte>(bytes, (int)found.Start, (int)found.Length);
            var (kind, data) = ReferenceKind(sseEvent.FirstSpan);
            Assert.Equal(kind, SseFraming.Classify(sseEvent));
            Assert.Equal(data, Encoding.UTF8.GetString(SseFraming.Data(sseEvent)));
        }
        Assert.Equal(SseEventKind.Done, SseFraming.Classify(Slice(bytes, events[^1])));
    }

    [Theory, MemberData(nameof(Streams))]
    public void SampleStream_EveryHeadOfAnEvent_IsClassifiedAsTheWholeEventOrNotYet(string file, string ending)
    {
        // What may flow before its end is decided on its head: the head must never name a kind the whole event would not.
        var bytes = WithLineEnding(Fixtures.Bytes(file), ending);
        foreach (var found in ScanFinal(new ReadOnlySequence<byte>(bytes), out _))
        {
            var sseEvent = new ReadOnlySequence<byte>(bytes, (int)found.Start, (int)found.Length);
            var whole = SseFraming.Classify(sseEvent);
            var eventLine = Encoding.UTF8.GetString(bytes, (int)found.Start, (int)found.Length).StartsWith("event:", StringComparison.Ordinal);
            var firstLineEnd = sseEvent.FirstSpan.IndexOfAny((byte)'\r', (byte)'\n');
            for (var length = 0; length < found.Length; length++)
            {
                var head = SseFraming.ClassifyHead(sseEvent.Slice(0, length));
                Assert.True(head is null || head == whole, $"{file} ({ending}), event at {found.Start}: a head of {length} bytes reads {head}, the whole {whole}");
                // An event that opens with its event line is named as soon as that line has ended.
                if (eventLine && length > firstLineEnd) Assert.Equal(whole, head);
            }
        }
    }

    [Fact]
    public void EventHead_IsNotNamedByDataAlone_NorByAnEventLineStillArriving()
    {
        // A later event line would decide the whole event; a line without its end may still grow.
        Assert.Null(SseFraming.ClassifyHead(new ReadOnlySequence<byte>("data: {\"type\":\"response.output_item.done\"}\n"u8.ToArray())));
        Assert.Null(SseFraming.ClassifyHead(new ReadOnlySequence<byte>("event: response.output_item.done"u8.ToArray())));
        Assert.Equal(SseEventKind.Error, SseFraming.ClassifyHead(new ReadOnlySequence<byte>(": hi\nid: 7\nevent: error\ndata: {"u8.ToArray())));
    }

    private static void AssertSameEvents(byte[] bytes, List<(int Start, int Length)> reference, List<FoundEvent> found, long rest, string where)
    {
        var ranges = found.Select(e => ((int)e.Start, (int)e.Length)).ToList();
        if (!ranges.SequenceEqual(reference))
            Assert.Fail($"{where}: found {ranges.Count} events, expected {reference.Count}; first difference at event {FirstDifference(ranges, reference)}");
        // The events tile the stream (each starts where the last ended, the last ends at the end), so
        // their concatenation is the input byte for byte; the byte-by-byte test also compares the bytes.
        long next = 0;
        foreach (var e in found)
        {
            Assert.True(e.Start == next && e.Length > 0, $"{where}: event at {e.Start} does not follow the one ending at {next}");
            next += e.Length;
        }
        Assert.True(rest == 0 && next == bytes.Length, $"{where}: events end at {next} of {bytes.Length}, rest {rest}");
    }

    private static int FirstDifference(List<(int, int)> a, List<(int, int)> b) =>
        Enumerable.Range(0, Math.Min(a.Count, b.Count)).FirstOrDefault(i => a[i] != b[i], Math.Min(a.Count, b.Count));

    /// <summary>
    /// No buffering: an event goes out with the read that completed it. One ending in CR may wait for the
    /// next byte (it could be the LF of a CRLF), but no longer: until a read brings more or the stream ends.
    /// </summary>
    private static void AssertEachEventRelayedOnArrival(byte[] bytes, List<FoundEvent> found, int[] readEnds)
    {
        foreach (var e in found)
        {
            var end = e.Start + e.Length;
            var arrival = Array.FindIndex(readEnds, r => r >= end);
            var latest = bytes[end - 1] == (byte)'\r'
                ? Array.FindIndex(readEnds, arrival, r => r > end) is var more and >= 0 ? more : readEnds.Length - 1
                : arrival;
            Assert.True(e.Read == arrival || e.Read == latest,
                $"event at {e.Start} completed by read {arrival} but relayed at read {e.Read}");
        }
    }

    private static void AssertTerminal(string file, ReadOnlySequence<byte> stream, List<FoundEvent> events, string where)
    {
        var expected = Expected(file);
        var terminals = events
            .Select(e => (Event: stream.Slice(e.Start, e.Length), Kind: SseFraming.Classify(stream.Slice(e.Start, e.Length))))
            .Where(t => SseFraming.IsTerminal(t.Kind))
            .ToList();
        var (sseEvent, kind) = Assert.Single(terminals);
        Assert.Equal(expected.GetProperty("terminalEvent").GetString(), KindName(kind));

        var data = SseFraming.Data(sseEvent);
        var terminal = TerminalEvent.Read(kind, data);
        Assert.Equal(kind, terminal.Kind);
        using var json = JsonDocument.Parse(data.ToArray());
        var response = json.RootElement.TryGetProperty("response", out var r) ? r : default;
        if (response.ValueKind == JsonValueKind.Object)
            Assert.Equal(expected.GetProperty("responseId").GetString(), terminal.ResponseId);

        if (expected.GetProperty("usage") is { ValueKind: JsonValueKind.Object } usage)
        {
            var read = terminal.Usage ?? throw new Xunit.Sdk.XunitException($"{file} {where}: no usage read");
            Assert.Equal(
                (usage.GetProperty("input_tokens").GetInt64(), usage.GetProperty("input_tokens_details").GetProperty("cached_tokens").GetInt64(),
                 usage.GetProperty("output_tokens").GetInt64(), usage.GetProperty("output_tokens_details").GetProperty("reasoning_tokens").GetInt64(),
                 usage.GetProperty("total_tokens").GetInt64()),
                (read.InputTokens, read.CachedTokens, read.OutputTokens, read.ReasoningTokens, read.TotalTokens));
            using var raw = JsonDocument.Parse(read.RawJson);
            Assert.True(JsonElement.DeepEquals(usage, raw.RootElement));
        }
        else
        {
            Assert.Null(terminal.Usage);
        }

        // The error a failed or error event carries, as a plain JSON reading sees it.
        var error = response.ValueKind == JsonValueKind.Object ? response.GetProperty("error") : json.RootElement;
        if (kind is SseEventKind.Failed or SseEventKind.Error)
        {
            Assert.Equal(error.GetProperty("code").GetString(), terminal.ErrorCode);
            Assert.Equal(error.GetProperty("message").GetString(), terminal.ErrorMessage);
            Assert.False(string.IsNullOrEmpty(terminal.ErrorCode));
        }
    }

    private static ReadOnlySequence<byte> Slice(byte[] bytes, FoundEvent e) => new(bytes, (int)e.Start, (int)e.Length);

    private static string KindName(SseEventKind kind) => kind switch
    {
        SseEventKind.Completed => "response.completed",
        SseEventKind.Incomplete => "response.incomplete",
        SseEventKind.Failed => "response.failed",
        SseEventKind.Error => "error",
        _ => kind.ToString(),
    };

    private static readonly JsonDocument ExpectedDocument = JsonDocument.Parse(Fixtures.Bytes("expected.json"));

    private static JsonElement Expected(string file) => ExpectedDocument.RootElement.GetProperty("streams").GetProperty(file);
}
