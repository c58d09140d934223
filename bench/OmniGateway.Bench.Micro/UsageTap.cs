using System.Buffers;
using OmniGateway.Proxy;

namespace OmniGateway.Bench.Micro;

/// <summary>What the relay learnt from a stream: enough to check a run did the work, and to keep the JIT from skipping it.</summary>
public readonly record struct TapResult(int Events, int TerminalEvents, string? ResponseId, long TotalTokens, long RelayedBytes);

/// <summary>
/// The relay's per-event reading, as <c>SseRelay.PumpAsync</c> does it: find the event's end, classify
/// it, read <c>response.created</c> for its id and a terminal event for its usage; every other event is
/// only classified. Over a whole stream already in memory, so only that reading is measured.
/// </summary>
public static class UsageTap
{
    public static TapResult Read(in ReadOnlySequence<byte> stream)
    {
        var scanner = new SseEventScanner();
        long scanned = 0;
        int events = 0, terminals = 0;
        string? responseId = null;
        long totalTokens = 0;
        while (scanner.TryFindEventEnd(stream.Slice(scanned), isFinal: true, out var length))
        {
            var sseEvent = stream.Slice(scanned, length);
            scanned += length;
            events++;
            var kind = SseFraming.Classify(sseEvent);
            if (kind == SseEventKind.Created) responseId ??= TerminalEvent.Read(kind, SseFraming.Data(sseEvent)).ResponseId;
            if (SseFraming.IsTerminal(kind))
            {
                terminals++;
                var terminal = TerminalEvent.Read(kind, SseFraming.Data(sseEvent));
                totalTokens += terminal.Usage?.TotalTokens ?? 0;
            }
        }
        return new TapResult(events, terminals, responseId, totalTokens, scanned);
    }
}
