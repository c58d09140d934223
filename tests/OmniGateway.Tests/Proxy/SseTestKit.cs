using System.Buffers;
using System.Text;
using System.Text.Json;
using OmniGateway.Bench.Micro;
using OmniGateway.Proxy;

namespace OmniGateway.Tests.Proxy;

/// <summary>One event as the code under test found it: where it is, and the read that delivered it.</summary>
internal readonly record struct FoundEvent(long Start, long Length, int Read);

/// <summary>Multi-segment sequences, the relay pump over a replayed upstream, and a plain reference reading of SSE.</summary>
internal static class SseTestKit
{
    public static byte[] WithLineEnding(byte[] lf, string ending) => ending switch
    {
        "LF" => lf,
        "CRLF" => Replace(lf, "\r\n"u8),
        "CR" => Replace(lf, "\r"u8),
        _ => throw new ArgumentOutOfRangeException(nameof(ending)),
    };

    private static byte[] Replace(byte[] lf, ReadOnlySpan<byte> with)
    {
        var output = new ArrayBufferWriter<byte>(lf.Length * 2);
        foreach (var b in lf)
        {
            if (b == (byte)'\n') output.Write(with); else output.Write([b]);
        }
        return output.WrittenSpan.ToArray();
    }

    /// <summary><paramref name="data"/> as one segment per piece between the ascending <paramref name="cuts"/> (empty pieces kept).</summary>
    public static ReadOnlySequence<byte> Split(ReadOnlyMemory<byte> data, params int[] cuts)
    {
        var first = new Segment(data[..(cuts.Length > 0 ? cuts[0] : data.Length)], 0);
        var last = first;
        for (var i = 0; i < cuts.Length; i++)
        {
            var end = i + 1 < cuts.Length ? cuts[i + 1] : data.Length;
            last = last.Append(data[cuts[i]..end]);
        }
        return new ReadOnlySequence<byte>(first, 0, last, last.Memory.Length);
    }

    /// <summary>Scans a complete stream in one final read.</summary>
    public static List<FoundEvent> ScanFinal(in ReadOnlySequence<byte> stream, out long rest)
    {
        var events = new List<FoundEvent>();
        var scanner = new SseEventScanner();
        long position = 0;
        while (scanner.TryFindEventEnd(stream.Slice(position), isFinal: true, out var length))
        {
            events.Add(new FoundEvent(position, length, 0));
            position += length;
        }
        rest = stream.Length - position;
        return events;
    }

    /// <summary>
    /// Runs the gateway's relay pump (<see cref="SseRelay.RelayAsync"/>) over <paramref name="data"/>: read r
    /// ends at <paramref name="readEnds"/>[r] (the last read is final), the buffer is segmented where reads
    /// end (unless <paramref name="segmentAtReads"/> is false). Returns what the pump wrote to the client,
    /// one entry per write with the read it happened in; <paramref name="rest"/> is what it did not relay.
    /// </summary>
    public static List<FoundEvent> Pump(byte[] data, int[] readEnds, out long rest, bool segmentAtReads = true)
    {
        var upstream = new ReplayUpstream(data, readEnds, segmentAtReads ? readEnds : []);
        var target = new RecordingTarget(upstream);
        using var deadline = RelayHarness.NewDeadline();
        var pending = SseRelay.RelayAsync(upstream, "text/event-stream", target, deadline, static _ => ValueTask.CompletedTask, CancellationToken.None);
        if (!pending.IsCompletedSuccessfully) throw new Xunit.Sdk.XunitException("The relay went asynchronous over a synchronous upstream.");
        rest = data.Length - target.Relayed;
        return target.Writes;
    }

    /// <summary>
    /// What the pump writes for <paramref name="reference"/> events: the same, except that keep-alives
    /// before the first real event go out with it (they do not count as a first event).
    /// </summary>
    public static List<(int Start, int Length)> ExpectedWrites(byte[] data, List<(int Start, int Length)> reference)
    {
        var leading = reference.TakeWhile(e => ReferenceKind(data.AsSpan(e.Start, e.Length)).Kind == SseEventKind.CommentOnly).Count();
        if (leading == 0 || leading == reference.Count) return leading == 0 ? reference : [];
        var first = reference[leading];
        return [(0, first.Start + first.Length), .. reference.Skip(leading + 1)];
    }

    /// <summary>A client that keeps the offsets of what it was sent, and the read each write came in.</summary>
    private sealed class RecordingTarget(ReplayUpstream upstream) : RelayTarget
    {
        public List<FoundEvent> Writes { get; } = [];
        public long Relayed { get; private set; }

        public override ValueTask StartAsync(string? upstreamContentType) => ValueTask.CompletedTask;

        public override void Write(in ReadOnlySequence<byte> bytes, SseEventKind kind)
        {
            Writes.Add(new FoundEvent(Relayed, bytes.Length, upstream.Reads - 1));
            Relayed += bytes.Length;
        }

        public override ValueTask<bool> FlushAsync(CancellationToken cancellationToken) => new(true);

        public override ValueTask EndWithErrorAsync(string message, CancellationToken cancellationToken, string code = StreamInterrupted) => ValueTask.CompletedTask;

        public override Task FailAsync(OmniGateway.Errors.GatewayError error) => Task.CompletedTask;
    }

    /// <summary>Reference framing, written plainly: an event ends with the terminator of an empty line that follows a non-empty one.</summary>
    public static List<(int Start, int Length)> ReferenceEvents(byte[] data)
    {
        var events = new List<(int, int)>();
        int start = 0, i = 0;
        var content = false;
        while (i < data.Length)
        {
            var lineStart = i;
            while (i < data.Length && data[i] is not ((byte)'\r' or (byte)'\n')) i++;
            if (i == data.Length) break;
            var empty = i == lineStart;
            i += data[i] == (byte)'\r' && i + 1 < data.Length && data[i + 1] == (byte)'\n' ? 2 : 1;
            if (empty && content)
            {
                events.Add((start, i - start));
                start = i;
                content = false;
            }
            else if (!empty)
            {
                content = true;
            }
        }
        return events;
    }

    /// <summary>Reference meaning of one event: its type (event line, else JSON <c>type</c> of the joined data) and its data.</summary>
    public static (SseEventKind Kind, string Data) ReferenceKind(ReadOnlySpan<byte> sseEvent)
    {
        var lines = Encoding.UTF8.GetString(sseEvent).ReplaceLineEndings("\n").Split('\n');
        string? type = null;
        var data = new List<string>();
        var fields = 0;
        foreach (var line in lines)
        {
            if (line.Length == 0 || line[0] == ':') continue;
            fields++;
            var colon = line.IndexOf(':', StringComparison.Ordinal);
            var name = colon < 0 ? line : line[..colon];
            var value = colon < 0 ? "" : line[(colon + 1)..];
            if (value.StartsWith(' ')) value = value[1..];
            if (name == "event") type ??= value;
            else if (name == "data") data.Add(value);
        }
        var joined = string.Join('\n', data);
        if (fields == 0) return (SseEventKind.CommentOnly, joined);
        if (type is null && data.Count > 0)
        {
            if (joined == "[DONE]") return (SseEventKind.Done, joined);
            try
            {
                using var json = JsonDocument.Parse(joined);
                if (json.RootElement.ValueKind == JsonValueKind.Object && json.RootElement.TryGetProperty("type", out var t)
                    && t.ValueKind == JsonValueKind.String)
                {
                    type = t.GetString();
                }
            }
            catch (JsonException)
            {
            }
        }
        return (type switch
        {
            "response.completed" => SseEventKind.Completed,
            "response.incomplete" => SseEventKind.Incomplete,
            "response.failed" => SseEventKind.Failed,
            "error" => SseEventKind.Error,
            "response.created" => SseEventKind.Created,
            "response.output_item.added" => SseEventKind.OutputItemAdded,
            "response.output_item.done" => SseEventKind.OutputItemDone,
            _ => SseEventKind.Other,
        }, joined);
    }

    private sealed class Segment : ReadOnlySequenceSegment<byte>
    {
        public Segment(ReadOnlyMemory<byte> memory, long runningIndex)
        {
            Memory = memory;
            RunningIndex = runningIndex;
        }

        public Segment Append(ReadOnlyMemory<byte> memory)
        {
            var next = new Segment(memory, RunningIndex + Memory.Length);
            Next = next;
            return next;
        }
    }
}
