using System.Buffers;
using System.IO.Pipelines;
using OmniGateway.Errors;
using OmniGateway.Usage;

namespace OmniGateway.Proxy;

/// <summary>
/// Steps 6 and 7: reads the upstream's SSE bytes with a <see cref="PipeReader"/>, hands each complete
/// event to the target unchanged, and stores the usage record of a terminal event before that event
/// is relayed. Only terminal events are parsed; every other byte just passes through. With
/// <c>Usage:OnClientAbort=Drain</c>, a departed client's answer is read on (not relayed) until its usage arrives.
/// </summary>
public sealed class SseRelay(RelaySession session, RelayTarget target, HttpContext context, UpstreamDeadline deadline, IReadOnlyList<string> serverKeys)
{
    private SseEventScanner _scanner;
    private long _scanned;
    private bool _started;
    private bool _doneSeen;
    private TerminalEvent? _terminal;

    public TerminalEvent? Terminal => _terminal;

    public async Task RunAsync(HttpResponseMessage upstream, CancellationToken cancellationToken)
    {
        if (!upstream.IsSuccessStatusCode || IsJson(upstream))
        {
            // Contract 3.6: no upstream header is relayed on errors, and the message is scrubbed.
            var error = await UpstreamErrorMapper.MapAsync(upstream, serverKeys, cancellationToken);
            await session.RecordAsync(UsageOutcome.UpstreamError);
            await target.FailAsync(error);
            return;
        }

        var contentType = upstream.Content.Headers.ContentType?.ToString();
        // Zero-byte reads: an open stream waiting for its next event holds no buffer (bench/: memory per
        // open stream), and a burst is read 64 KiB at a time (a 5 MB audio event in 80 reads, not 1 300).
        var reader = PipeReader.Create(await upstream.Content.ReadAsStreamAsync(cancellationToken),
            new StreamPipeReaderOptions(bufferSize: 64 * 1024, minimumReadSize: 16 * 1024, useZeroByteReads: true));
        // Cancel: the read token carries the client's disconnect, which closes the upstream at once.
        // Drain: reads ignore it; the client's departure is seen at the next flush instead.
        var readToken = deadline.DrainOnClientAbort ? deadline.DrainToken : cancellationToken;
        try
        {
            await PumpAsync(reader, contentType, readToken);
        }
        catch (Exception exception) when (deadline.Draining || (exception is OperationCanceledException && context.RequestAborted.IsCancellationRequested))
        {
            // A drain that times out or breaks still leaves a truthful record: aborted, with what is known.
            await session.RecordAsync(UsageOutcome.ClientAborted, _terminal);
        }
        catch (OperationCanceledException)
        {
            await FailAsync(started => started
                ? "The upstream went silent for longer than the idle timeout; the answer is incomplete."
                : "The upstream sent no event before the first-byte timeout.", timeout: true);
        }
        catch (Exception exception) when (exception is IOException or HttpRequestException)
        {
            await FailAsync(started => started
                ? "The upstream connection broke mid-stream; the answer is incomplete. Retry the request."
                : "The upstream connection broke before the first event.", timeout: false);
        }
        finally
        {
            await reader.CompleteAsync();
        }
    }

    private async Task PumpAsync(PipeReader reader, string? contentType, CancellationToken cancellationToken)
    {
        while (true)
        {
            var result = await reader.ReadAsync(cancellationToken);
            if (_started) deadline.ResetIdle();
            var buffer = result.Buffer;
            long written = 0;
            var wroteAny = false;

            while (_scanner.TryFindEventEnd(buffer.Slice(_scanned), result.IsCompleted, out var length))
            {
                var eventStart = _scanned;
                _scanned += length;
                var sseEvent = buffer.Slice(eventStart, length);
                var kind = SseFraming.Classify(sseEvent);
                if (kind == SseEventKind.CommentOnly && !_started) continue; // keep-alives do not count as a first event

                if (!_started)
                {
                    _started = true;
                    session.MarkFirstEvent();
                    target.Start(contentType);
                    deadline.ResetIdle();
                }
                _doneSeen |= kind == SseEventKind.Done;
                if (kind == SseEventKind.Created) session.UpstreamResponseId ??= TerminalEvent.Read(kind, SseFraming.Data(sseEvent)).ResponseId;
                if (SseFraming.IsTerminal(kind) && _terminal is null)
                {
                    if (wroteAny && !deadline.Draining && !await target.FlushAsync(cancellationToken) && !await ClientGoneAsync(reader)) return;
                    _terminal = TerminalEvent.Read(kind, SseFraming.Data(sseEvent));
                    if (deadline.Draining)
                    {
                        // The upstream's own usage for an answer nobody read: what it will bill.
                        await session.RecordAsync(UsageOutcome.ClientAborted, _terminal);
                        return;
                    }
                    // Stored before relaying: a client that saw completion must be billed even if we die now.
                    if (!await TryRecordTerminalAsync(cancellationToken)) return;
                }
                if (!deadline.Draining) target.Write(buffer.Slice(written, _scanned - written), kind);
                written = _scanned;
                wroteAny = true;
            }

            if (wroteAny && !deadline.Draining && !await target.FlushAsync(cancellationToken) && !await ClientGoneAsync(reader)) return;

            if (result.IsCompleted)
            {
                await EndOfStreamAsync(buffer.Slice(written), cancellationToken);
                return;
            }
            _scanned -= written;
            reader.AdvanceTo(buffer.GetPosition(written), buffer.End);
        }
    }

    private async Task EndOfStreamAsync(ReadOnlySequence<byte> rest, CancellationToken cancellationToken)
    {
        if (deadline.Draining)
        {
            await session.RecordAsync(UsageOutcome.ClientAborted, _terminal);
            return;
        }
        if (!_started)
        {
            // Contract 3.6: the upstream's silent failure (an empty 200) must not become ours.
            await session.RecordAsync(UsageOutcome.UpstreamError);
            await target.FailAsync(GatewayErrors.UpstreamEmptyResponse());
            return;
        }
        if (_terminal is not null || _doneSeen)
        {
            // Whatever trails the terminal event (a [DONE] without its blank line, say) is relayed as is.
            if (!rest.IsEmpty)
            {
                target.Write(rest, SseEventKind.Other);
                await target.FlushAsync(cancellationToken);
            }
            await session.RecordAsync(_terminal?.Outcome ?? UsageOutcome.Completed, _terminal);
            return;
        }
        // A half event is dropped: relaying it would hand the client truncated JSON.
        await session.RecordAsync(UsageOutcome.Interrupted);
        await target.EndWithErrorAsync("The upstream closed the stream before the response was complete. Retry the request.", cancellationToken);
    }

    private async Task FailAsync(Func<bool, string> message, bool timeout)
    {
        if (_started)
        {
            await session.RecordAsync(UsageOutcome.Interrupted, _terminal);
            if (_terminal is null) await target.EndWithErrorAsync(message(true), CancellationToken.None);
            return;
        }
        await session.RecordAsync(UsageOutcome.UpstreamError);
        await target.FailAsync(timeout ? GatewayErrors.UpstreamTimeout(message(false)) : GatewayErrors.UpstreamFailure(message(false)));
    }

    /// <summary>
    /// A completion that cannot be accounted is not relayed: the client is told in-band instead of
    /// receiving an answer nobody will ever bill or audit.
    /// </summary>
    private async Task<bool> TryRecordTerminalAsync(CancellationToken cancellationToken)
    {
        try
        {
            await session.RecordAsync(_terminal!.Outcome, _terminal); // set by the caller just before
            return true;
        }
        catch (Exception exception) when (exception is not OperationCanceledException)
        {
            // UsageRecorder has logged the failure with the request id.
            await target.EndWithErrorAsync("The gateway could not record this response's usage, so it withholds the completion. Retry the request; if it persists, tell the gateway's operator.",
                cancellationToken, code: "usage_not_recorded");
            return false;
        }
    }

    /// <summary>True when the relay should read on to drain the upstream's usage.</summary>
    private async Task<bool> ClientGoneAsync(PipeReader reader)
    {
        if (deadline.DrainOnClientAbort && _terminal is null)
        {
            deadline.StartDrain();
            return true;
        }
        await session.RecordAsync(UsageOutcome.ClientAborted, _terminal);
        await reader.CompleteAsync();
        return false;
    }

    private static bool IsJson(HttpResponseMessage response) =>
        response.Content.Headers.ContentType?.MediaType is { } media && media.EndsWith("json", StringComparison.OrdinalIgnoreCase);
}
