using System.Buffers;
using System.Text.Json;

namespace OmniGateway.Proxy;

/// <summary>
/// What an SSE event means to the gateway. Only terminal events are parsed, plus <c>response.created</c>
/// once, for the response id a bare <c>error</c> event would not carry. Output items are only counted
/// (added against done): when the last one is done the client holds the whole answer, so leaving then
/// must not make it free. Terminal kinds come last (<see cref="SseFraming.IsTerminal"/>).
/// </summary>
public enum SseEventKind { CommentOnly, Other, Done, Created, OutputItemAdded, OutputItemDone, Completed, Incomplete, Failed, Error }

/// <summary>
/// Finds event boundaries in the upstream's bytes without copying or decoding them. Lines end in CR,
/// LF or CRLF, as <c>SseParser</c> accepts; an event ends at an empty line. The scanner remembers how
/// far it has looked, so an event that arrives in many reads is scanned once, not once per read.
/// </summary>
public struct SseEventScanner
{
    private long _resumeAt;
    private long _lineStart;
    private bool _hasContent;

    /// <summary>
    /// Looks for the end of the event at the start of <paramref name="buffer"/>. <paramref name="isFinal"/>
    /// says no more bytes will come, so a trailing CR cannot be the first half of a CRLF.
    /// </summary>
    public bool TryFindEventEnd(in ReadOnlySequence<byte> buffer, bool isFinal, out long eventLength)
    {
        eventLength = 0;
        var reader = new SequenceReader<byte>(buffer);
        reader.Advance(_resumeAt);
        while (reader.TryAdvanceToAny("\r\n"u8, advancePastDelimiter: false))
        {
            var lineEnd = reader.Consumed;
            reader.TryRead(out var terminator);
            if (terminator == (byte)'\r')
            {
                if (reader.End && !isFinal)
                {
                    _resumeAt = lineEnd; // the LF of a CRLF may still be on its way
                    return false;
                }
                reader.IsNext((byte)'\n', advancePast: true);
            }
            var emptyLine = lineEnd == _lineStart;
            _lineStart = reader.Consumed;
            if (emptyLine && _hasContent)
            {
                eventLength = reader.Consumed;
                this = default;
                return true;
            }
            _hasContent |= !emptyLine;
        }
        // No line ends in the rest, so none of it can end the event: the next look starts after it. (A failed
        // TryAdvanceToAny leaves the reader where it was, and resuming there rescanned a line still arriving, a
        // megabyte-long audio line included, once per read.)
        _resumeAt = buffer.Length;
        return false;
    }

    /// <summary>
    /// After a <see cref="TryFindEventEnd"/> that found no end: how many bytes of the event under way are known not to
    /// hold its end (a CR that may be the first half of a CRLF is not among them).
    /// </summary>
    public readonly long Scanned => _resumeAt;

    /// <summary>The first <paramref name="bytes"/> of the event under way (at most <see cref="Scanned"/>) were consumed: the next buffer starts after them.</summary>
    public void Consumed(long bytes)
    {
        _resumeAt -= bytes;
        _lineStart -= bytes; // a line begun before the cut is not empty, and one begun at it still is (0)
    }
}

public static class SseFraming
{
    /// <summary>Reads the event's type from its <c>event:</c> line, or the JSON <c>type</c> of its data when that line is missing.</summary>
    public static SseEventKind Classify(in ReadOnlySequence<byte> sseEvent)
    {
        var reader = new SequenceReader<byte>(sseEvent);
        var sawField = false;
        ReadOnlySequence<byte> firstData = default;
        var dataLines = 0;
        while (TryReadLine(ref reader, out var line))
        {
            if (line.IsEmpty || line.FirstSpan[0] == (byte)':') continue;
            sawField = true;
            if (TryFieldValue(line, "event"u8, out var eventType)) return KindOfType(eventType);
            if (TryFieldValue(line, "data"u8, out var data) && dataLines++ == 0) firstData = data;
        }
        if (!sawField) return SseEventKind.CommentOnly;
        if (dataLines == 0) return SseEventKind.Other;
        // SSE's data is all data lines joined, and "type" may sit in any of them; joining copies, so only then.
        if (dataLines > 1) firstData = Data(sseEvent);
        if (SequenceEquals(firstData, "[DONE]"u8)) return SseEventKind.Done;
        return TryReadJsonType(firstData, out var kind) ? kind : SseEventKind.Other;
    }

    /// <summary>The event's data: one line's slice, or (rarely) several <c>data:</c> lines joined with LF as SSE defines.</summary>
    public static ReadOnlySequence<byte> Data(in ReadOnlySequence<byte> sseEvent)
    {
        var reader = new SequenceReader<byte>(sseEvent);
        ReadOnlySequence<byte> first = default;
        ArrayBufferWriter<byte>? joined = null;
        var count = 0;
        while (TryReadLine(ref reader, out var line))
        {
            if (!TryFieldValue(line, "data"u8, out var data)) continue;
            if (count++ == 0) { first = data; continue; }
            if (joined is null)
            {
                joined = new ArrayBufferWriter<byte>();
                foreach (var segment in first) joined.Write(segment.Span);
            }
            joined.Write("\n"u8);
            foreach (var segment in data) joined.Write(segment.Span);
        }
        return joined is null ? first : new ReadOnlySequence<byte>(joined.WrittenMemory);
    }

    /// <summary>
    /// The kind of an event of which only <paramref name="head"/> has arrived, once its complete lines settle it as
    /// <see cref="Classify"/> will settle the whole event: they hold an <c>event:</c> line, and the first one decides.
    /// Null while they hold none, since a later line may still name the type.
    /// </summary>
    public static SseEventKind? ClassifyHead(in ReadOnlySequence<byte> head)
    {
        var reader = new SequenceReader<byte>(head);
        // An unterminated last line may still grow: it settles nothing.
        while (TryReadLine(ref reader, out var line, endedOnly: true))
        {
            if (TryFieldValue(line, "event"u8, out var eventType)) return KindOfType(eventType);
        }
        return null;
    }

    public static SseEventKind KindOfType(in ReadOnlySequence<byte> type)
    {
        if (type.IsSingleSegment) return KindOfType(type.FirstSpan);
        if (type.Length > 32) return SseEventKind.Other;
        Span<byte> copy = stackalloc byte[32];
        type.CopyTo(copy);
        return KindOfType(copy[..(int)type.Length]);
    }

    public static SseEventKind KindOfType(ReadOnlySpan<byte> type)
    {
        if (type.SequenceEqual("response.completed"u8)) return SseEventKind.Completed;
        if (type.SequenceEqual("response.incomplete"u8)) return SseEventKind.Incomplete;
        if (type.SequenceEqual("response.failed"u8)) return SseEventKind.Failed;
        if (type.SequenceEqual("error"u8)) return SseEventKind.Error;
        if (type.SequenceEqual("response.created"u8)) return SseEventKind.Created;
        if (type.SequenceEqual("response.output_item.added"u8)) return SseEventKind.OutputItemAdded;
        if (type.SequenceEqual("response.output_item.done"u8)) return SseEventKind.OutputItemDone;
        return SseEventKind.Other;
    }

    public static bool IsTerminal(SseEventKind kind) => kind >= SseEventKind.Completed;

    private static bool TryReadJsonType(in ReadOnlySequence<byte> json, out SseEventKind kind)
    {
        kind = SseEventKind.Other;
        var reader = new Utf8JsonReader(json, new JsonReaderOptions { MaxDepth = 256 });
        try
        {
            if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject) return false;
            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                if (reader.ValueTextEquals("type"u8))
                {
                    reader.Read();
                    if (reader.TokenType != JsonTokenType.String) return false;
                    kind = reader.HasValueSequence ? KindOfType(reader.ValueSequence) : KindOfType(reader.ValueSpan);
                    return true;
                }
                reader.Read();
                reader.Skip();
            }
        }
        catch (JsonException)
        {
        }
        return false;
    }

    /// <param name="endedOnly">A last line with no line end is not read (false), rather than read as a line.</param>
    private static bool TryReadLine(ref SequenceReader<byte> reader, out ReadOnlySequence<byte> line, bool endedOnly = false)
    {
        if (reader.End) { line = default; return false; }
        var start = reader.Position;
        if (!reader.TryAdvanceToAny("\r\n"u8, advancePastDelimiter: false))
        {
            if (endedOnly) { line = default; return false; }
            line = reader.Sequence.Slice(start);
            reader.AdvanceToEnd();
            return true;
        }
        line = reader.Sequence.Slice(start, reader.Position);
        reader.TryRead(out var terminator);
        if (terminator == (byte)'\r') reader.IsNext((byte)'\n', advancePast: true);
        return true;
    }

    private static bool TryFieldValue(in ReadOnlySequence<byte> line, ReadOnlySpan<byte> field, out ReadOnlySequence<byte> value)
    {
        value = default;
        if (line.Length < field.Length + 1) return false;
        var reader = new SequenceReader<byte>(line);
        if (!reader.IsNext(field, advancePast: true) || !reader.IsNext((byte)':', advancePast: true)) return false;
        reader.IsNext((byte)' ', advancePast: true);
        value = line.Slice(reader.Position);
        return true;
    }

    private static bool SequenceEquals(in ReadOnlySequence<byte> value, ReadOnlySpan<byte> expected)
    {
        if (value.Length != expected.Length) return false;
        if (value.IsSingleSegment) return value.FirstSpan.SequenceEqual(expected);
        var reader = new SequenceReader<byte>(value);
        return reader.IsNext(expected);
    }
}
