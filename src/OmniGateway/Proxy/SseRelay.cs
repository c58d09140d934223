using System.Buffers;
using System.IO.Pipelines;
using System.Runtime.CompilerServices;

namespace OmniGateway.Proxy;

/// <summary>
/// Steps 6 and 7, the relay pump, free of HTTP types: reads the upstream's SSE bytes from a
/// <see cref="PipeReader"/>, hands each complete event to the target unchanged, and returns how the
/// stream ended (<see cref="RelayResult"/>, shaped after YARP's <c>StreamCopier</c>: a value, not
/// flags or exceptions). It never writes a usage record or an error itself; the one thing it does
/// for accounting is <paramref name="storeBeforeTerminal"/>, called exactly once, before the terminal
/// event is relayed. Only terminal events (and <c>response.created</c>, for its id) are parsed; output
/// items are counted from their classification; every other byte just passes through. A large event the
/// relay does not parse flows on as it arrives (<see cref="FlowFromBytes"/>), to a target that takes parts.
/// </summary>
public static class SseRelay
{
    /// <summary>
    /// How much of an event must be in, its end not yet, before that much goes on ahead of the rest: an answer's audio
    /// is one event of megabytes, which waited here whole (the client's first byte of it as late as its last). Smaller
    /// events split by a read are still held to their end, one write instead of two.
    /// </summary>
    public const int FlowFromBytes = 16 * 1024;

    private static readonly ReadOnlySequence<byte> EventEnd = new("\n\n"u8.ToArray());

    /// <param name="upstream">The upstream's body; the caller completes it.</param>
    /// <param name="contentType">The upstream's content type, for <see cref="RelayTarget.StartAsync"/>.</param>
    /// <param name="storeBeforeTerminal">Stores the record of the terminal event (passed as a provisional
    /// <see cref="RelayEnd.Relayed"/> result); a throw withholds the completion (<see cref="RelayEnd.TerminalNotRecorded"/>).</param>
    /// <param name="clientGone">Fires when the client disconnects; <see cref="UpstreamDeadline.ClientLeft"/> decides what that means.</param>
    // Pooled: the pump's state machine (its locals) was the largest object a stream made (issue 11, allocated per stream).
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    public static async ValueTask<RelayResult> RelayAsync(PipeReader upstream, string? contentType, RelayTarget target, UpstreamDeadline deadline,
        Func<RelayResult, ValueTask> storeBeforeTerminal, CancellationToken clientGone)
    {
        var scanner = new SseEventScanner();
        long scanned = 0, firstEvent = 0;
        var doneSeen = false;
        var gone = false;
        var openItems = 0;
        TerminalEvent? terminal = null;
        string? responseId = null;
        SseEventKind? flowing = null; // the kind of the event whose first part went on ahead of its end
        var held = false; // the event under way was judged and is held to its end
        using var departure = clientGone.UnsafeRegister(static state => ((UpstreamDeadline)state!).ClientLeft(), deadline);
        try
        {
            while (true)
            {
                var result = await upstream.ReadAsync(deadline.ReadToken);
                if (firstEvent != 0) deadline.ResetIdle();
                // Seen between reads; what the current buffer holds is still scanned, so a terminal event in it is kept.
                gone |= clientGone.IsCancellationRequested;
                var buffer = result.Buffer;
                long written = 0;
                var wroteAny = false;

                while (scanner.TryFindEventEnd(buffer.Slice(scanned), result.IsCompleted, out var length))
                {
                    var eventStart = scanned;
                    scanned += length;
                    var sseEvent = buffer.Slice(eventStart, length);
                    // The rest of a flowing event is not an event of its own: its kind was settled by its first part.
                    var kind = flowing ?? SseFraming.Classify(sseEvent);
                    (flowing, held) = (null, false);
                    if (kind == SseEventKind.CommentOnly && firstEvent == 0) continue; // keep-alives do not count as a first event

                    if (firstEvent == 0) firstEvent = await StartAsync(target, contentType, deadline);
                    switch (kind)
                    {
                        case SseEventKind.Done: doneSeen = true; break;
                        case SseEventKind.Created: responseId ??= CreatedEvent.ReadResponseId(SseFraming.Data(sseEvent)); break;
                        case SseEventKind.OutputItemAdded: openItems++; break;
                        case SseEventKind.OutputItemDone:
                            if (--openItems <= 0) deadline.MarkContentComplete();
                            break;
                    }
                    if (SseFraming.IsTerminal(kind) && terminal is null)
                    {
                        // What came before goes out first; a client found gone here still leaves its usage with us.
                        if (wroteAny && !gone && !await target.FlushAsync(deadline.ReadToken)) gone = true;
                        terminal = TerminalEvent.Read(kind, SseFraming.Data(sseEvent));
                        if (gone) return new RelayResult(RelayEnd.ClientGone, terminal, firstEvent, responseId);
                        try
                        {
                            // Stored before relaying: a client that saw completion must be billed even if we die now.
                            await storeBeforeTerminal(new RelayResult(RelayEnd.Relayed, terminal, firstEvent, responseId));
                        }
                        catch (Exception exception)
                        {
                            return new RelayResult(RelayEnd.TerminalNotRecorded, terminal, firstEvent, responseId, exception);
                        }
                    }
                    if (!gone) target.Write(buffer.Slice(written, scanned - written), kind);
                    written = scanned;
                    wroteAny = true;
                }

                // The event under way, when it is large and of a kind that needs no reading: what cannot hold its end goes on.
                if (scanner.Scanned > 0 && target.TakesPartialEvents && !gone)
                {
                    var head = scanner.Scanned;
                    // Judged once: asked again on every read, a head with no line end (a data line of megabytes) is searched again each time.
                    if (flowing is null && !held && head >= FlowFromBytes)
                    {
                        if (SseFraming.ClassifyHead(buffer.Slice(scanned, head)) is { } headKind && MayFlow(headKind))
                        {
                            if (firstEvent == 0) firstEvent = await StartAsync(target, contentType, deadline);
                            // The client may now hold the last item's content: leaving before its end must not make it free.
                            if (headKind == SseEventKind.OutputItemDone && openItems <= 1) deadline.MarkContentComplete();
                            flowing = headKind;
                        }
                        else
                        {
                            held = true;
                        }
                    }
                    if (flowing is { } flowingKind)
                    {
                        scanned += head;
                        target.Write(buffer.Slice(written, scanned - written), flowingKind);
                        scanner.Consumed(head);
                        written = scanned;
                        wroteAny = true;
                    }
                }

                if (wroteAny && !gone && !await target.FlushAsync(deadline.ReadToken)) gone = true;
                if (gone)
                {
                    // After the terminal event the client has what it paid for; before it, drain or cancel.
                    if (terminal is not null) return new RelayResult(RelayEnd.Relayed, terminal, firstEvent, responseId);
                    if (!deadline.ClientLeft()) return new RelayResult(RelayEnd.ClientGone, null, firstEvent, responseId);
                }

                if (result.IsCompleted)
                {
                    // An event cut off after its first part went on is ended, so that an error event after it stands alone.
                    if (flowing is not null && !gone)
                    {
                        target.Write(EventEnd, SseEventKind.Other);
                        await target.FlushAsync(deadline.ReadToken);
                    }
                    if (!gone && (terminal is not null || doneSeen))
                    {
                        // Whatever trails the terminal event (a [DONE] without its blank line, say) is relayed as is.
                        var rest = buffer.Slice(written);
                        if (!rest.IsEmpty)
                        {
                            target.Write(rest, SseEventKind.Other);
                            await target.FlushAsync(deadline.ReadToken);
                        }
                    }
                    // A half event is dropped: relaying it would hand the client truncated JSON.
                    var end = terminal is not null ? RelayEnd.Relayed
                        : gone ? RelayEnd.ClientGone
                        : firstEvent == 0 ? RelayEnd.Empty
                        : doneSeen ? RelayEnd.EndedAfterDone
                        : RelayEnd.ClosedEarly;
                    return new RelayResult(end, terminal, firstEvent, responseId);
                }
                scanned -= written;
                upstream.AdvanceTo(buffer.GetPosition(written), buffer.End);
            }
        }
        catch (Exception exception)
        {
            // Flushed with the error event that follows (the read token may be the one that ran out).
            if (flowing is not null && !gone) target.Write(EventEnd, SseEventKind.Other);
            // After the terminal event nothing is owed; before it, the cause decides (a departed client wins).
            var end = terminal is not null ? RelayEnd.Relayed
                : gone || clientGone.IsCancellationRequested ? RelayEnd.ClientGone
                : exception is not OperationCanceledException ? RelayEnd.Broken
                : deadline.ShuttingDown && !deadline.Expired ? RelayEnd.ShuttingDown
                : RelayEnd.TimedOut;
            return new RelayResult(end, terminal, firstEvent, responseId, exception);
        }
    }

    /// <summary>The first event is here: only now may the target send a 200. Returns when it came.</summary>
    private static async ValueTask<long> StartAsync(RelayTarget target, string? contentType, UpstreamDeadline deadline)
    {
        var at = deadline.Time.GetTimestamp();
        await target.StartAsync(contentType);
        deadline.ResetIdle();
        return at;
    }

    /// <summary>What may flow before its end: not what the relay parses (terminal events, errors, <c>response.created</c>) nor <c>[DONE]</c>.</summary>
    private static bool MayFlow(SseEventKind kind) => kind is SseEventKind.Other or SseEventKind.OutputItemAdded or SseEventKind.OutputItemDone;
}
