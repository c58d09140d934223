using System.Buffers;
using System.Text;
using OmniGateway.Proxy;
using static OmniGateway.Tests.Proxy.SseTestKit;

namespace OmniGateway.Tests.Proxy;

/// <summary>What the samples do not show but SSE allows: no event line, comments, several data lines, odd line endings.</summary>
public sealed class SseFramingEdgeCaseTests
{
    private const string Usage =
        """{"input_tokens":5,"input_tokens_details":{"cached_tokens":2},"output_tokens":7,"output_tokens_details":{"reasoning_tokens":3},"total_tokens":12}""";

    public static TheoryData<string, SseEventKind, string> Events
    {
        get
        {
            var rows = new (string Event, SseEventKind Kind)[]
            {
                ("data: {\"type\":\"response.completed\",\"response\":{\"id\":\"resp_1\",\"usage\":" + Usage + "}}\n\n", SseEventKind.Completed),
                ("data: {\"response\":{\"type\":\"response.failed\",\"id\":\"resp_1\"},\"sequence_number\":3,\"type\":\"response.incomplete\"}\n\n", SseEventKind.Incomplete),
                ("data:{\"type\":\"error\",\"code\":\"rate_limit_exceeded\",\"message\":\"slow down\"}\n\n", SseEventKind.Error),
                ("data: {\"type\":\"response.output_text.delta\",\"delta\":\"response.completed\"}\n\n", SseEventKind.Other),
                ("data: {\"type\":5}\n\n", SseEventKind.Other),
                ("data: not json at all\n\n", SseEventKind.Other),
                ("data: [DONE]\n\n", SseEventKind.Done),
                ("data:[DONE]\n\n", SseEventKind.Done),
                ("event:response.failed\ndata: {\"type\":\"response.failed\"}\n\n", SseEventKind.Failed),
                ("event: response.completed\n\n", SseEventKind.Completed),
                ("data: {\"type\":\"response.output_text.delta\"}\nevent: response.completed\n\n", SseEventKind.Completed),
                ("event: response.output_text.delta\ndata: {\"type\":\"response.completed\"}\n\n", SseEventKind.Other),
                ("id: 7\nretry: 100\n\n", SseEventKind.Other),
                (": keep-alive\n\n", SseEventKind.CommentOnly),
                (":\n:another\n\n", SseEventKind.CommentOnly),
                (": ping\nevent: response.completed\n: pong\ndata: {\"type\":\"response.completed\"}\n\n", SseEventKind.Completed),
                ("event: response.completed\ndata: {\"type\":\"response.completed\",\n" +
                 "data: \"response\":{\"id\":\"resp_multi\",\"usage\":" + Usage + "}}\n\n", SseEventKind.Completed),
                // No event line and the type only in a later data line: the data is the lines joined.
                ("data: {\"response\":{\"id\":\"resp_multi\",\"usage\":" + Usage + "},\ndata: \"type\":\"response.completed\"}\n\n", SseEventKind.Completed),
            };
            var data = new TheoryData<string, SseEventKind, string>();
            foreach (var (sseEvent, kind) in rows)
                foreach (var ending in new[] { "LF", "CRLF", "CR" }) data.Add(sseEvent, kind, ending);
            return data;
        }
    }

    [Theory, MemberData(nameof(Events))]
    public void SingleEvent_IsFramedAndClassifiedAtEverySplit(string lfEvent, SseEventKind kind, string ending)
    {
        var bytes = WithLineEnding(Encoding.UTF8.GetBytes(lfEvent), ending);
        Assert.Equal(kind, ReferenceKind(bytes).Kind); // the table agrees with a plain reading
        for (var cut = 0; cut <= bytes.Length; cut++)
        {
            var stream = Split(bytes, cut);
            var found = Assert.Single(ScanFinal(stream, out var rest));
            Assert.Equal((0, bytes.Length, 0L), (found.Start, found.Length, rest));
            Assert.Equal(kind, SseFraming.Classify(stream));
            Assert.Equal(ReferenceKind(bytes).Data, Encoding.UTF8.GetString(SseFraming.Data(stream)));
            if (lfEvent.Contains("resp_multi", StringComparison.Ordinal) || lfEvent.Contains("resp_1\",\"usage", StringComparison.Ordinal))
            {
                var terminal = TerminalEvent.Read(kind, SseFraming.Data(stream));
                Assert.StartsWith("resp_", terminal.ResponseId, StringComparison.Ordinal);
                var usage = terminal.Usage ?? throw new Xunit.Sdk.XunitException($"no usage at cut {cut}");
                Assert.Equal((5L, 2L, 7L, 3L, 12L), (usage.InputTokens, usage.CachedTokens, usage.OutputTokens, usage.ReasoningTokens, usage.TotalTokens));
            }
        }
    }

    [Fact]
    public void BareErrorEvent_CodeAndMessageRead()
    {
        var sseEvent = new ReadOnlySequence<byte>("event: error\ndata: {\"type\":\"error\",\"code\":\"rate_limit_exceeded\",\"message\":\"slow \\u0026 steady\",\"param\":null}\n\n"u8.ToArray());
        var terminal = TerminalEvent.Read(SseFraming.Classify(sseEvent), SseFraming.Data(sseEvent));
        Assert.Equal((SseEventKind.Error, "rate_limit_exceeded", "slow & steady", null), (terminal.Kind, terminal.ErrorCode, terminal.ErrorMessage, terminal.Usage));
    }

    [Fact]
    public void UsageWithoutTotal_TotalIsInputPlusOutput()
    {
        var data = new ReadOnlySequence<byte>("""{"type":"response.completed","response":{"id":"resp_2","usage":{"output_tokens":4,"input_tokens":6}}}"""u8.ToArray());
        var usage = TerminalEvent.Read(SseEventKind.Completed, data).Usage;
        Assert.Equal((6L, 4L, 10L), (usage?.InputTokens, usage?.OutputTokens, usage?.TotalTokens));
    }

    /// <summary>Keep-alives, blank line runs, mixed CR/LF/CRLF, several data lines, missing event lines, all in one stream.</summary>
    private static readonly byte[] MixedStream = Encoding.UTF8.GetBytes(
        "\n\r\n: keep-alive\n\n" +
        "event: response.created\r\ndata: {\"type\":\"response.created\",\"response\":{\"id\":\"resp_mixed\"}}\r\n\r\n" +
        ": ping\r\r" +
        "data: {\"type\":\"response.output_text.delta\",\"delta\":\"héllo 🎉\"}\r\r\n\n\n" +
        "event: response.output_text.delta\rdata: {\"type\":\"response.output_text.delta\",\rdata: \"delta\":\"x\"}\r\r" +
        "data: {\"response\":{\"id\":\"resp_mixed\",\"usage\":" + Usage + "},\r\ndata: \"type\":\"response.completed\"}\n\r\n" +
        "data: [DONE]\r\n\r\n");

    [Fact]
    public void MixedLineEndingsAndKeepAlives_SplitAtEveryOffset_MatchAPlainReading()
    {
        var reference = ReferenceEvents(MixedStream);
        Assert.Equal(MixedStream.Length, reference.Sum(e => e.Length));
        Assert.True(reference.Count >= 6, $"{reference.Count} events");
        for (var cut = 0; cut <= MixedStream.Length; cut++)
        {
            var scanned = ScanFinal(Split(MixedStream, cut), out var rest);
            var pumped = Pump(MixedStream, [cut, MixedStream.Length, MixedStream.Length], out var pumpedRest);
            Assert.Equal(reference, scanned.Select(e => ((int)e.Start, (int)e.Length)));
            Assert.Equal(ExpectedWrites(MixedStream, reference), pumped.Select(e => ((int)e.Start, (int)e.Length)));
            Assert.Equal((0L, 0L), (rest, pumpedRest));
            var stream = Split(MixedStream, cut);
            var kinds = reference.Select(e => SseFraming.Classify(stream.Slice(e.Start, e.Length))).ToList();
            Assert.Equal(reference.Select(e => ReferenceKind(MixedStream.AsSpan(e.Start, e.Length)).Kind), kinds);
            Assert.Equal(SseEventKind.Completed, Assert.Single(kinds, SseFraming.IsTerminal));
        }
    }

    [Theory]
    [InlineData("event: response.completed\ndata: {\"type\"")]
    [InlineData("data: [DONE]\n")]
    [InlineData("data: [DONE]\r")]
    [InlineData(": only a comment\n")]
    [InlineData("\n\n\r\n\r\r")]
    public void UnfinishedEvent_IsNotAnEvent_EvenAtEndOfStream(string text)
    {
        var bytes = Encoding.UTF8.GetBytes(text);
        Assert.Empty(ReferenceEvents(bytes));
        for (var cut = 0; cut <= bytes.Length; cut++)
        {
            Assert.Empty(ScanFinal(Split(bytes, cut), out var rest));
            Assert.Equal(bytes.Length, rest);
            Assert.Empty(Pump(bytes, [cut, bytes.Length, bytes.Length], out rest));
            Assert.Equal(bytes.Length, rest);
        }
    }

    [Fact]
    public void EventEndingInCrAtTheEnd_IsCompleteOnlyOnceTheStreamEnds()
    {
        var bytes = "data: [DONE]\r\r"u8.ToArray();
        var scanner = new SseEventScanner();
        Assert.False(scanner.TryFindEventEnd(new ReadOnlySequence<byte>(bytes), isFinal: false, out _)); // an LF may follow
        Assert.True(scanner.TryFindEventEnd(new ReadOnlySequence<byte>(bytes), isFinal: true, out var length));
        Assert.Equal(bytes.Length, length);
    }
}
