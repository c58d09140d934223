using System.Buffers;
using System.Runtime.CompilerServices;
using Microsoft.AspNetCore.Http.Features;
using OmniGateway.Errors;

namespace OmniGateway.Validation;

/// <summary>
/// Step 3's intake: the body, capped, into one pooled buffer that grows with what arrives, never with what
/// <c>Content-Length</c> claims. Past the cap it stops reading; past the tenant's share of the buffer budget it answers
/// 429, past the gateway-wide budget 503.
/// Kestrel's minimum request body data rate stays on, so a stalled body is cut, not waited for; a trickle above that
/// rate is cut at <c>Gateway:RequestBodyTimeout</c>, since until then it holds its buffer (and a streamed body its try).
/// </summary>
public static class RequestBodyReader
{
    /// <summary>The first buffer: a typical text request fits, a claimed 60 MB costs no more than this until it arrives.</summary>
    public const int InitialBufferBytes = 16 * 1024;

    /// <summary>
    /// From this size a full buffer grows fourfold, not twofold: each growth copies the body so far, and doubling
    /// copied 16 MiB for a 9 MiB body (memmove was an eighth of the gateway's CPU on that call, issue 11, target 5).
    /// Below it, doubling keeps what a body that stops arriving holds close to what it sent.
    /// </summary>
    public const int QuadrupleFromBytes = 1024 * 1024;

    /// <param name="StreamedBy">Set when the body was read into a <see cref="StreamedRequestBody"/>, which then owns the array.</param>
    public readonly record struct Body(byte[] Buffer, int Length, RequestBufferBudget Budget, int Held, StreamedRequestBody? StreamedBy = null) : IDisposable
    {
        public ReadOnlyMemory<byte> Memory => Buffer.AsMemory(0, Length);

        public void Dispose()
        {
            if (StreamedBy is not null) return;
            Budget.Return(Held);
            ArrayPool<byte>.Shared.Return(Buffer);
        }
    }

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))] // awaited once by the endpoint
    /// <param name="budget">The caller's tenant's share of the gateway-wide budget for buffered bodies (<see cref="RequestBufferBudget.ForTenant"/>).</param>
    /// <param name="timeout">How long the body may take from the first read; <paramref name="time"/> measures it.</param>
    /// <param name="streamed">Where a large body goes as it arrives, for the first try to send; it owns every array from the first.</param>
    public static async ValueTask<Refusable<Body>> ReadAsync(HttpRequest request, long maxBytes, RequestBufferBudget budget, TimeSpan timeout, TimeProvider time,
        StreamedRequestBody? streamed = null)
    {
        var started = time.GetTimestamp();
        var claimed = request.ContentLength;
        if (claimed > maxBytes) return TooLarge(maxBytes);
        // Kestrel's own cap (30 MB by default) would otherwise answer before ours. At ours, its reader throws on the
        // first byte past the limit (caught below): the body is then in error, so Kestrel closes rather than drains it.
        if (request.HttpContext.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } sizeFeature)
            sizeFeature.MaxRequestBodySize = maxBytes;

        // A known small body gets a buffer of its size (+1 to see the end); anything else starts small and grows (QuadrupleFromBytes).
        // A claimed length only caps the growth (its last step), never sizes a buffer before the bytes arrive.
        var cap = (int)((claimed ?? maxBytes) + 1); // a claim past maxBytes was refused above
        var held = Math.Min(cap, InitialBufferBytes);
        var taken = budget.Take(held);
        if (taken != BufferTake.Taken) return Busy(taken, budget);
        var buffer = ArrayPool<byte>.Shared.Rent(held);
        streamed?.Own(buffer, held);
        var length = 0;
        try
        {
            while (true)
            {
                if (length == held)
                {
                    if (length > maxBytes) break;
                    // Full, so more may come: grow, up to the claim (Kestrel never reads past it) or the cap.
                    var size = Grown(held, cap);
                    var grown = budget.Take(size);
                    if (grown != BufferTake.Taken)
                    {
                        Release(buffer, held, budget, streamed);
                        return Busy(grown, budget);
                    }
                    var larger = ArrayPool<byte>.Shared.Rent(size);
                    buffer.AsSpan(0, length).CopyTo(larger);
                    // Owned only once it holds the body so far: the sender reads from the array last owned.
                    streamed?.Own(larger, size);
                    Release(buffer, held, budget, streamed); // a try may still be sending from it: a streamed body keeps it
                    (buffer, held) = (larger, size);
                }
                // Looked at between reads, which a body above Kestrel's minimum rate keeps returning: no timer per call.
                // A body that is all there (its claimed length read) is taken, however late its last byte came.
                if (length > 0 && length != claimed && time.GetElapsedTime(started) > timeout)
                {
                    Release(buffer, held, budget, streamed);
                    return GatewayErrors.RequestBodyTimeout(timeout); // the rest is left unread: the answer ends the connection
                }
                var read = await request.Body.ReadAsync(buffer.AsMemory(length, held - length), request.HttpContext.RequestAborted);
                if (read == 0) break;
                length += read;
                streamed?.Arrived(length);
            }
        }
        catch (BadHttpRequestException exception) when (exception.StatusCode == StatusCodes.Status413PayloadTooLarge)
        {
            length = (int)Math.Min(maxBytes + 1, int.MaxValue);
        }
        catch
        {
            Release(buffer, held, budget, streamed);
            throw;
        }
        if (length > maxBytes)
        {
            Release(buffer, held, budget, streamed);
            return TooLarge(maxBytes);
        }
        streamed?.Complete();
        return new Body(buffer, length, budget, held, streamed);
    }

    /// <summary>
    /// What a full buffer of <paramref name="held"/> bytes grows to: twice that, four times from <see cref="QuadrupleFromBytes"/>,
    /// at most <paramref name="cap"/>; a step one byte short of the cap goes to it (a body of exactly a step's size, such as a
    /// 16 MiB one, took one more growth, a copy of all of it, only to see its end).
    /// </summary>
    private static int Grown(int held, int cap)
    {
        var next = (long)held * (held >= QuadrupleFromBytes ? 4 : 2);
        return (int)(next + 1 >= cap ? cap : next);
    }

    /// <summary>
    /// The most of the buffer budget one body of up to <paramref name="maxBytes"/> holds at once: a body read whole holds
    /// its buffer and the next while it grows; a <paramref name="streamed"/> one keeps every buffer it outgrew until the
    /// call ends (a try may still be sending from it). The budgets are held to it at start-up, so that a body of the
    /// largest size always fits when it is alone; the size alone was not enough (a 16 MiB streamed body holds ~22 MiB).
    /// </summary>
    public static long MostHeld(long maxBytes, bool streamed)
    {
        var cap = (int)Math.Min(maxBytes + 1, int.MaxValue);
        var held = Math.Min(cap, InitialBufferBytes);
        long all = held, peak = held;
        while (held < cap)
        {
            var next = Grown(held, cap);
            peak = Math.Max(peak, (long)held + next);
            all += next;
            held = next;
        }
        return streamed ? all : peak;
    }

    /// <summary>Gives the array back, unless a streamed body owns it (and gives it back when the call ends).</summary>
    private static void Release(byte[] buffer, int held, RequestBufferBudget budget, StreamedRequestBody? streamed)
    {
        if (streamed is null) Release(buffer, held, budget);
    }

    private static void Release(byte[] buffer, int held, RequestBufferBudget budget)
    {
        budget.Return(held);
        ArrayPool<byte>.Shared.Return(buffer);
    }

    private static GatewayError TooLarge(long maxBytes) =>
        GatewayErrors.TooLarge("request_too_large",
            $"The request body is larger than this gateway accepts ({maxBytes} bytes). Send large media by http(s) URL instead of inline base64.");

    private static GatewayError Busy(BufferTake full, RequestBufferBudget budget) => full == BufferTake.TenantFull
        ? GatewayErrors.RateLimited("too_many_request_bodies",
            $"Your tenant's request bodies on their way in already hold {budget.TenantCapacity} bytes of the gateway's memory (Gateway:MaxBufferedRequestBytesPerTenant). " +
            "Retry once some have arrived, or send large media by http(s) URL instead of inline base64.", retryAfterSeconds: 1)
        : GatewayErrors.ServerBusy("The gateway is holding as many request bodies in memory as it may (Gateway:MaxBufferedRequestBytes). Retry after the time in Retry-After.");
}
