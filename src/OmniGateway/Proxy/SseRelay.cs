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
/// items are counted from their classification; every other byte just passes through.
/// </summary>
public static class SseRelay
{
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
                    var kind = SseFraming.Classify(sseEvent);
                    if (kind == SseEventKind.CommentOnly && firstEvent == 0) continue; // keep-alives do not count as a first event

                    if (firstEvent == 0)
                    {
                        firstEvent = deadline.Time.GetTimestamp();
                        await target.StartAsync(contentType);
                        deadline.ResetIdle();
                    }
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

                if (wroteAny && !gone && !await target.FlushAsync(deadline.ReadToken)) gone = true;
                if (gone)
                {
                    // After the terminal event the client has what it paid for; before it, drain or cancel.
                    if (terminal is not null) return new RelayResult(RelayEnd.Relayed, terminal, firstEvent, responseId);
                    if (!deadline.ClientLeft()) return new RelayResult(RelayEnd.ClientGone, null, firstEvent, responseId);
                }

                if (result.IsCompleted)
                {
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
            // After the terminal event nothing is owed; before it, the cause decides (a departed client wins).
            var end = terminal is not null ? RelayEnd.Relayed
                : gone || clientGone.IsCancellationRequested ? RelayEnd.ClientGone
                : exception is not OperationCanceledException ? RelayEnd.Broken
                : deadline.ShuttingDown && !deadline.Expired ? RelayEnd.ShuttingDown
                : RelayEnd.TimedOut;
            return new RelayResult(end, terminal, firstEvent, responseId, exception);
        }
    }
}
