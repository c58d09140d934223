using System.Buffers;
using System.Text;
using OmniGateway.Bench.Micro;
using OmniGateway.Errors;
using OmniGateway.Proxy;
using OmniGateway.Upstream;
using OmniGateway.Usage;

namespace OmniGateway.Tests.Proxy;

/// <summary>
/// The relay pump's ends, over a replayed upstream: what it returns decides the record, so each way a
/// client can leave is pinned here — above all that usage the gateway has received is never thrown away.
/// </summary>
public sealed class SseRelayTests
{
    private static readonly byte[] Sample = Fixtures.Bytes("text-audio.sse");
    private static readonly string SampleText = Encoding.UTF8.GetString(Sample);
    private static readonly (long InputTokens, long OutputTokens, long TotalTokens, string ResponseId) SampleUsage = Fixtures.Expected("text-audio.sse");

    private static int EndOf(string eventType)
    {
        var at = SampleText.IndexOf("event: " + eventType, StringComparison.Ordinal);
        return Encoding.UTF8.GetByteCount(SampleText[..SampleText.IndexOf("\n\n", at, StringComparison.Ordinal)]) + 2;
    }

    private static int[] OneEventPerRead() => ReplayUpstream.OneEventPerRead(Sample);

    private static (RelayResult Result, ClientThatLeaves Client, int Stores, ReplayUpstream Upstream) Relay(int[] readEnds, Func<int, bool> flushSucceeds,
        ClientAbortPolicy policy = ClientAbortPolicy.Cancel, byte[]? stream = null)
    {
        var upstream = new ReplayUpstream(stream ?? Sample, readEnds, readEnds);
        var client = new ClientThatLeaves(flushSucceeds);
        using var deadline = new UpstreamDeadline(new UpstreamOptions(), new UsageOptions { OnClientAbort = policy }, TimeProvider.System);
        var result = Completed(SseRelay.RelayAsync(upstream, "text/event-stream", client, deadline, _ => { client.Stores++; return ValueTask.CompletedTask; }, CancellationToken.None));
        return (result, client, client.Stores, upstream);
    }

    [Fact]
    public void WholeStream_IsRelayed_AndTheTerminalStoredOnceBeforeItGoesOut()
    {
        var (result, client, stores, _) = Relay(OneEventPerRead(), _ => true);

        Assert.Equal(RelayEnd.Relayed, result.End);
        Assert.Equal(SampleUsage.TotalTokens, result.Terminal!.Usage!.TotalTokens);
        Assert.Equal(1, stores);
        Assert.True(client.SawTerminal);
        Assert.Equal(Sample.Length, client.Relayed);
        Assert.True(result.Started);
    }

    [Fact]
    public void ClientGoneMidGeneration_CancelsAtOnce_WithoutReadingOn()
    {
        var deltaRead = Array.IndexOf(OneEventPerRead(), EndOf("response.output_text.delta"));
        var (result, _, stores, upstream) = Relay(OneEventPerRead(), flush => flush < deltaRead);

        Assert.Equal((RelayEnd.ClientGone, null), (result.End, result.Terminal));
        Assert.Equal(deltaRead + 1, upstream.Reads); // no read after the failed flush
        Assert.Equal(0, stores);
        Assert.Equal(UsageOutcome.ClientAborted, CallAccount.OutcomeOf(result));
    }

    [Fact]
    public void ClientGoneAfterTheLastOutputItemIsDone_ReadsOnUnrelayed_ToTheUpstreamsUsage()
    {
        var reads = OneEventPerRead();
        var itemDoneRead = Array.IndexOf(reads, EndOf("response.output_item.done"));
        var (result, client, stores, _) = Relay(reads, flush => flush < itemDoneRead);

        Assert.Equal(RelayEnd.ClientGone, result.End);
        Assert.Equal((SampleUsage.InputTokens, SampleUsage.TotalTokens), (result.Terminal!.Usage!.InputTokens, result.Terminal.Usage.TotalTokens));
        Assert.Equal(0, stores); // not relayed, so not stored before relaying: the forwarder records it as client_aborted
        Assert.False(client.SawTerminal);
        Assert.Equal(UsageOutcome.ClientAborted, CallAccount.OutcomeOf(result));
    }

    [Fact]
    public void TerminalAlreadyInTheBuffer_WhenTheFlushBeforeItFails_IsKept()
    {
        // Mid-generation (no output item done: the sample without that event) and Cancel: what must not happen is
        // throwing away a terminal event that arrived in the same read as the events before it.
        var itemDoneStart = SampleText.IndexOf("event: response.output_item.done", StringComparison.Ordinal);
        var withoutItemDone = Encoding.UTF8.GetBytes(SampleText.Remove(itemDoneStart, SampleText.IndexOf("\n\n", itemDoneStart, StringComparison.Ordinal) + 2 - itemDoneStart));
        var text = Encoding.UTF8.GetString(withoutItemDone);
        var lastDelta = Encoding.UTF8.GetByteCount(text[..text.LastIndexOf("event: response.output_text.delta", StringComparison.Ordinal)]);
        int[] reads = [lastDelta, withoutItemDone.Length, withoutItemDone.Length];
        var (result, client, stores, _) = Relay(reads, flush => flush == 0, stream: withoutItemDone);

        Assert.Equal(RelayEnd.ClientGone, result.End);
        Assert.Equal(SampleUsage.TotalTokens, result.Terminal!.Usage!.TotalTokens);
        Assert.Equal(0, stores);
        Assert.False(client.SawTerminal);
    }

    [Fact]
    public void DrainPolicy_ReadsOnFromMidGeneration()
    {
        var deltaRead = Array.IndexOf(OneEventPerRead(), EndOf("response.output_text.delta"));
        var (result, _, _, _) = Relay(OneEventPerRead(), flush => flush < deltaRead, ClientAbortPolicy.Drain);

        Assert.Equal(RelayEnd.ClientGone, result.End);
        Assert.Equal(SampleUsage.TotalTokens, result.Terminal!.Usage!.TotalTokens);
    }

    [Fact]
    public void StoreThatFails_WithholdsTheTerminalEvent()
    {
        var upstream = new ReplayUpstream(Sample, OneEventPerRead(), []);
        var client = new ClientThatLeaves(_ => true);
        using var deadline = RelayHarness.NewDeadline();
        var result = Completed(SseRelay.RelayAsync(upstream, null, client, deadline, _ => throw new InvalidOperationException("store down"), CancellationToken.None));

        Assert.Equal(RelayEnd.TerminalNotRecorded, result.End);
        Assert.True(result.RecordHandedOver);
        Assert.False(client.SawTerminal);
        Assert.IsType<InvalidOperationException>(result.Error);
    }

    [Fact]
    public void UpstreamClosingMidStream_IsClosedEarly_AndAnEmptyOne_IsEmpty()
    {
        var half = EndOf("response.output_text.delta") + 10;
        var truncated = new ReplayUpstream(Sample.AsMemory(0, half), [half, half], []);
        using var deadline = RelayHarness.NewDeadline();
        var result = Completed(SseRelay.RelayAsync(truncated, null, new ClientThatLeaves(_ => true), deadline, _ => ValueTask.CompletedTask, CancellationToken.None));
        Assert.Equal((RelayEnd.ClosedEarly, UsageOutcome.Interrupted), (result.End, CallAccount.OutcomeOf(result)));

        var empty = new ReplayUpstream(": keep-alive\n\n"u8.ToArray(), [14], []);
        var nothing = Completed(SseRelay.RelayAsync(empty, null, new ClientThatLeaves(_ => true), deadline, _ => ValueTask.CompletedTask, CancellationToken.None));
        Assert.Equal((RelayEnd.Empty, UsageOutcome.UpstreamError), (nothing.End, CallAccount.OutcomeOf(nothing)));
    }

    /// <summary>A replayed upstream never waits, so the pump must have finished.</summary>
    private static RelayResult Completed(ValueTask<RelayResult> pending) =>
        pending.IsCompletedSuccessfully ? pending.Result : throw new Xunit.Sdk.XunitException("The relay went asynchronous over a synchronous upstream.");

    /// <summary>A client whose n-th flush (from 0) fails when <c>flushSucceeds(n)</c> says so, and stays gone.</summary>
    private sealed class ClientThatLeaves(Func<int, bool> flushSucceeds) : RelayTarget
    {
        private int _flushes;
        private bool _gone;

        public long Relayed { get; private set; }
        public bool SawTerminal { get; private set; }
        public int Stores { get; set; }

        public override ValueTask StartAsync(string? upstreamContentType) => ValueTask.CompletedTask;

        public override void Write(in ReadOnlySequence<byte> bytes, SseEventKind kind)
        {
            Assert.False(_gone, "written to after the client left");
            if (SseFraming.IsTerminal(kind))
            {
                Assert.Equal(1, Stores); // stored before it goes out, once
                SawTerminal = true;
            }
            Relayed += bytes.Length;
        }

        public override ValueTask<bool> FlushAsync(CancellationToken cancellationToken)
        {
            _gone |= !flushSucceeds(_flushes++);
            return new(!_gone);
        }

        public override ValueTask EndWithErrorAsync(string message, CancellationToken cancellationToken, string code = StreamInterrupted) => ValueTask.CompletedTask;

        public override Task FailAsync(GatewayError error) => Task.CompletedTask;
    }
}
