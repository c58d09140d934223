using System.Buffers;
using System.IO.Pipelines;
using OmniGateway.Proxy;

namespace OmniGateway.Bench.Micro;

/// <summary>
/// <c>SseRelay.PumpAsync</c>'s loop without HTTP: the upstream is a <see cref="Pipe"/> fed one
/// "network read" at a time, the client is a <see cref="Pipe"/> drained after each flush as Kestrel's
/// transport would. SseRelay itself needs an HttpContext, a usage recorder and metrics, so its loop is
/// reproduced here step for step with the same public types; what is left out is per stream or per
/// read (session, deadline timer, usage storage), never per event. Both pipes are reset and reused, so
/// a warm run allocates only what the gateway's own per-event code allocates.
/// </summary>
public sealed class RelayLoop
{
    // Inline schedulers and no back-pressure: the loop feeds and drains on one thread and must never wait.
    // 16 KB segments as SseRelay's PipeReader buffer, so events straddle segments where they would there.
    private static readonly PipeOptions SingleThreaded = new(readerScheduler: PipeScheduler.Inline, writerScheduler: PipeScheduler.Inline,
        pauseWriterThreshold: 0, resumeWriterThreshold: 0, minimumSegmentSize: 16 * 1024, useSynchronizationContext: false);

    private readonly Pipe _upstream = new(SingleThreaded);
    private readonly Pipe _client = new(SingleThreaded);

    /// <summary>
    /// Relays <paramref name="stream"/>, delivered to the reader in reads ending at the ascending offsets
    /// <paramref name="readEnds"/> (the last one is the stream's length), then an end of stream.
    /// </summary>
    public async ValueTask<TapResult> RelayAsync(ReadOnlyMemory<byte> stream, int[] readEnds, CancellationToken cancellationToken = default)
    {
        var reader = _upstream.Reader;
        var scanner = new SseEventScanner();
        long scanned = 0, relayed = 0;
        var started = false;
        int events = 0, terminals = 0, nextRead = 0, fed = 0;
        string? responseId = null;
        TerminalEvent? terminal = null;
        try
        {
            while (true)
            {
                // 0. The network: the next read's bytes, or the upstream closing once all are sent.
                if (nextRead < readEnds.Length)
                {
                    var end = readEnds[nextRead++];
                    _upstream.Writer.Write(stream.Span[fed..end]);
                    fed = end;
                    await _upstream.Writer.FlushAsync(cancellationToken);
                }
                else if (nextRead++ == readEnds.Length)
                {
                    await _upstream.Writer.CompleteAsync();
                }

                // From here on, SseRelay.PumpAsync's shape.
                var result = await reader.ReadAsync(cancellationToken);
                var buffer = result.Buffer;
                long written = 0;
                var wroteAny = false;

                while (scanner.TryFindEventEnd(buffer.Slice(scanned), result.IsCompleted, out var length))
                {
                    var eventStart = scanned;
                    scanned += length;
                    var sseEvent = buffer.Slice(eventStart, length);
                    var kind = SseFraming.Classify(sseEvent);
                    if (kind == SseEventKind.CommentOnly && !started) continue;
                    started = true;
                    events++;
                    if (kind == SseEventKind.Created) responseId ??= TerminalEvent.Read(kind, SseFraming.Data(sseEvent)).ResponseId;
                    if (SseFraming.IsTerminal(kind) && terminal is null)
                    {
                        // The relay flushes what came before, then stores the usage (not measured here) before relaying.
                        if (wroteAny) relayed += await FlushToClientAsync(cancellationToken);
                        terminal = TerminalEvent.Read(kind, SseFraming.Data(sseEvent));
                        terminals++;
                    }
                    WriteToClient(buffer.Slice(written, scanned - written));
                    written = scanned;
                    wroteAny = true;
                }

                if (wroteAny) relayed += await FlushToClientAsync(cancellationToken);

                if (result.IsCompleted)
                {
                    var rest = buffer.Slice(written);
                    if (!rest.IsEmpty && terminal is not null)
                    {
                        WriteToClient(rest);
                        relayed += await FlushToClientAsync(cancellationToken);
                    }
                    return new TapResult(events, terminals, responseId, terminal?.Usage?.TotalTokens ?? 0, relayed);
                }
                scanned -= written;
                reader.AdvanceTo(buffer.GetPosition(written), buffer.End);
            }
        }
        finally
        {
            await reader.CompleteAsync();
            await _upstream.Writer.CompleteAsync();
            await _client.Writer.CompleteAsync();
            await _client.Reader.CompleteAsync();
            _upstream.Reset();
            _client.Reset();
        }
    }

    /// <summary>Read ends for a live upstream, which flushes each event as it is generated: one event per read.</summary>
    public static int[] OneEventPerRead(byte[] stream) => BenchSamples.SseEvents(stream).Select(e => e.Start + e.Length).ToArray();

    /// <summary>Read ends for a fast upstream whose events queue up: <paramref name="size"/>-byte reads, cutting events anywhere.</summary>
    public static int[] FixedSizeReads(byte[] stream, int size) =>
        Enumerable.Range(1, (stream.Length + size - 1) / size).Select(i => Math.Min(i * size, stream.Length)).ToArray();

    // As ClientStreamTarget.Write: segment by segment into the response's PipeWriter.
    private void WriteToClient(in ReadOnlySequence<byte> bytes)
    {
        var writer = _client.Writer;
        foreach (var segment in bytes) writer.Write(segment.Span);
    }

    // As ClientStreamTarget.FlushAsync, then the transport taking the bytes.
    private async ValueTask<long> FlushToClientAsync(CancellationToken cancellationToken)
    {
        await _client.Writer.FlushAsync(cancellationToken);
        if (!_client.Reader.TryRead(out var sent)) return 0;
        var length = sent.Buffer.Length;
        _client.Reader.AdvanceTo(sent.Buffer.End);
        return length;
    }
}
