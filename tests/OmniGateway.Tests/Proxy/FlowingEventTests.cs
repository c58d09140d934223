using System.Buffers;
using System.Text;
using OmniGateway.Bench.Micro;
using OmniGateway.Errors;
using OmniGateway.Proxy;
using OmniGateway.Upstream;
using OmniGateway.Usage;

namespace OmniGateway.Tests.Proxy;

/// <summary>
/// A large event the relay does not parse goes on as it arrives (<see cref="SseRelay.FlowFromBytes"/>), to a client that
/// takes parts: the answer's audio is one event of megabytes. What the relay parses (terminal events, errors,
/// <c>response.created</c>) and an event not yet named by its <c>event:</c> line still wait for their end, and a client
/// that leaves once the last item's content has begun to reach it is billed as one that saw all of it.
/// </summary>
public sealed class FlowingEventTests
{
    private const int ReadSize = 4096;
    private const int Padding = 100_000;

    /// <summary>The sample answer with <paramref name="padding"/> bytes of a <c>pad</c> member in the first <paramref name="eventType"/> event.</summary>
    private static (byte[] Stream, int Start, int End) Padded(string file, string eventType, int padding = Padding, bool withoutEventLine = false)
    {
        var text = Encoding.UTF8.GetString(Fixtures.Bytes(file));
        var eventLine = "event: " + eventType + "\n";
        var start = text.IndexOf(eventLine, StringComparison.Ordinal);
        Assert.True(start >= 0, $"{file} has no {eventType} event");
        var data = text.IndexOf("data: {", start, StringComparison.Ordinal) + "data: {".Length;
        text = text.Insert(data, "\"pad\":\"" + new string('A', padding) + "\",");
        if (withoutEventLine) text = text.Remove(start, eventLine.Length);
        var end = text.IndexOf("\n\n", start, StringComparison.Ordinal) + 2;
        return (Encoding.UTF8.GetBytes(text), Encoding.UTF8.GetByteCount(text[..start]), Encoding.UTF8.GetByteCount(text[..end]));
    }

    private static int[] Reads(int length, int size = ReadSize) => [.. Enumerable.Range(1, (length + size - 1) / size).Select(r => Math.Min(r * size, length))];

    /// <param name="leaveAfter">The client is gone at its first flush once it holds more than this many bytes.</param>
    private static (RelayResult Result, PartTakingClient Client) Relay(byte[] stream, int[] reads, long leaveAfter = long.MaxValue)
    {
        var upstream = new ReplayUpstream(stream, reads, reads);
        var client = new PartTakingClient(upstream, leaveAfter);
        using var deadline = new UpstreamDeadline(new UpstreamOptions(), new UsageOptions { OnClientAbort = ClientAbortPolicy.Cancel }, TimeProvider.System);
        var pending = SseRelay.RelayAsync(upstream, "text/event-stream", client, deadline, _ => ValueTask.CompletedTask, CancellationToken.None);
        if (!pending.IsCompletedSuccessfully) throw new Xunit.Sdk.XunitException("The relay went asynchronous over a synchronous upstream.");
        return (pending.Result, client);
    }

    [Theory]
    [InlineData("response.output_item.done")]
    [InlineData("response.output_text.delta")]
    public void ALargeEvent_GoesOnAsItArrives_AndTheClientGetsTheStreamUnchanged(string eventType)
    {
        var (stream, start, end) = Padded("text-audio.sse", eventType);
        var reads = Reads(stream.Length);
        var (result, client) = Relay(stream, reads);

        Assert.Equal(RelayEnd.Relayed, result.End);
        Assert.Equal(stream, client.Received);
        // Once as much of it as FlowFromBytes is in, every read's bytes of it reach the client in that read.
        var flowing = reads.Select((readEnd, read) => (readEnd, read)).Where(r => r.readEnd - start >= SseRelay.FlowFromBytes && r.readEnd < end).ToList();
        Assert.True(flowing.Count > 10);
        foreach (var (readEnd, read) in flowing) Assert.Equal(readEnd, client.SentBy(read));
    }

    [Theory]
    [InlineData("text-audio.sse", "response.completed", false)]
    [InlineData("text-audio.sse", "response.created", false)]
    [InlineData("error-event.sse", "error", false)]
    [InlineData("failed.sse", "response.failed", false)]
    [InlineData("text-audio.sse", "response.output_item.done", true)] // no event line: the JSON type is known only at the end
    public void ParsedKinds_AndEventsNotNamedByAnEventLine_WaitForTheirEnd(string file, string eventType, bool withoutEventLine)
    {
        var (stream, start, end) = Padded(file, eventType, withoutEventLine: withoutEventLine);
        var (_, client) = Relay(stream, Reads(stream.Length));

        Assert.Equal(stream, client.Received);
        // No write ends inside the event: it went out in one piece, with or after the events before it.
        Assert.DoesNotContain(client.WriteEnds, writeEnd => writeEnd > start && writeEnd < end);
    }

    [Fact]
    public void AnEventSmallerThanTheThreshold_SplitByReads_IsStillWrittenWhole()
    {
        var (stream, start, end) = Padded("text-audio.sse", "response.output_text.delta", SseRelay.FlowFromBytes / 2);
        var (_, client) = Relay(stream, Reads(stream.Length, 1024));

        Assert.Equal(stream, client.Received);
        Assert.DoesNotContain(client.WriteEnds, writeEnd => writeEnd > start && writeEnd < end);
    }

    [Fact]
    public void AnEventJudgedBeforeItsEventLineHasArrived_IsHeldToItsEnd()
    {
        // Judged once, when FlowFromBytes of it is in: a head that was searched and held no event line is not searched
        // again on every read (a data line of megabytes has no line end to find). Here a long comment comes first.
        var text = Encoding.UTF8.GetString(Fixtures.Bytes("text-audio.sse"));
        var start = text.IndexOf("event: response.output_text.delta", StringComparison.Ordinal);
        text = text.Insert(start, ":" + new string('x', 2 * SseRelay.FlowFromBytes) + "\n");
        var (from, end) = (Encoding.UTF8.GetByteCount(text[..start]), Encoding.UTF8.GetByteCount(text[..(text.IndexOf("\n\n", start, StringComparison.Ordinal) + 2)]));
        var stream = Encoding.UTF8.GetBytes(text);
        // A read ends just after the event line: asked again then, the head would be named, and flow.
        var afterEventLine = Array.IndexOf(stream, (byte)'\n', Array.IndexOf(stream, (byte)'\n', from) + 1) + 8;
        var (_, client) = Relay(stream, [.. Reads(stream.Length).Append(afterEventLine).Order()]);

        Assert.Equal(stream, client.Received);
        Assert.DoesNotContain(client.WriteEnds, writeEnd => writeEnd > from && writeEnd < end);
    }

    /// <summary>The padded event flows, and the client is gone at the first flush that holds any of it.</summary>
    private static (RelayResult Result, PartTakingClient Client, int Start) LeaveInside(string eventType)
    {
        var (stream, start, _) = Padded("text-audio.sse", eventType);
        var (result, client) = Relay(stream, Reads(stream.Length), leaveAfter: start);
        return (result, client, start);
    }

    [Fact]
    public void ClientLeavingInsideTheLastItemsDoneEvent_IsReadOnToTheUsage_NotCancelled()
    {
        // Under Cancel, a client gone before the content is complete stops the upstream. One that has begun to receive the
        // last output item (its text and audio) has the answer in hand: leaving there must not make it free.
        var (result, client, start) = LeaveInside("response.output_item.done");

        Assert.True(client.Received.Length > start, "the client had received part of the last item before it left");
        Assert.Equal(RelayEnd.ClientGone, result.End);
        Assert.Equal(Fixtures.Expected("text-audio.sse").TotalTokens, result.Terminal!.Usage!.TotalTokens);
    }

    [Fact]
    public void ClientLeavingInsideALargeDelta_StillCancels()
    {
        var (result, client, start) = LeaveInside("response.output_text.delta");

        Assert.True(client.Received.Length > start);
        Assert.Equal((RelayEnd.ClientGone, null), (result.End, result.Terminal));
    }

    [Fact]
    public void UpstreamClosingInsideAFlowingEvent_EndsItWithABlankLine_SoTheErrorEventAfterItStandsAlone()
    {
        var (stream, start, _) = Padded("text-audio.sse", "response.output_item.done");
        var cut = start + Padding / 2;
        var (result, client) = Relay(stream[..cut], Reads(cut));

        Assert.Equal(RelayEnd.ClosedEarly, result.End);
        Assert.Equal([.. stream[..cut], .. "\n\n"u8.ToArray()], client.Received);
    }

    /// <summary>A client that takes parts, keeping what it was sent and the read each write came in; gone at the first flush holding more than <paramref name="leaveAfter"/> bytes.</summary>
    private sealed class PartTakingClient(ReplayUpstream upstream, long leaveAfter) : RelayTarget
    {
        private readonly List<(byte[] Bytes, int Read)> _writes = [];
        private long _received;
        private bool _gone;

        public override bool TakesPartialEvents => true;

        public byte[] Received => [.. _writes.SelectMany(w => w.Bytes)];

        /// <summary>Where each write ended in the stream the client received.</summary>
        public IEnumerable<long> WriteEnds
        {
            get
            {
                long end = 0;
                foreach (var (bytes, _) in _writes) yield return end += bytes.Length;
            }
        }

        /// <summary>How many bytes the client had been sent by the end of <paramref name="read"/>.</summary>
        public long SentBy(int read) => _writes.Where(w => w.Read <= read).Sum(w => (long)w.Bytes.Length);

        public override ValueTask StartAsync(string? upstreamContentType) => ValueTask.CompletedTask;

        public override void Write(in ReadOnlySequence<byte> bytes, SseEventKind kind)
        {
            Assert.False(_gone, "written to after the client left");
            _writes.Add((bytes.ToArray(), upstream.Reads - 1));
            _received += bytes.Length;
        }

        public override ValueTask<bool> FlushAsync(CancellationToken cancellationToken)
        {
            _gone |= _received > leaveAfter;
            return new(!_gone);
        }

        public override ValueTask EndWithErrorAsync(string message, CancellationToken cancellationToken, string code = StreamInterrupted) => ValueTask.CompletedTask;

        public override Task FailAsync(GatewayError error) => Task.CompletedTask;
    }
}
