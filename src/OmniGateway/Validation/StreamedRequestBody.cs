using System.Buffers;

namespace OmniGateway.Validation;

/// <summary>
/// A large body (<c>Content-Length</c> of at least <c>Gateway:StreamRequestBodiesFromBytes</c>) as it arrives, which
/// the call's first upstream try sends while step 3 still reads and before step 4 has judged it (issue 11, target 5:
/// a 9 MiB inline-audio body waited for all of itself to arrive, then for all of itself to be sent). The try sends the
/// object's opening and its forwardable members (<see cref="ForwardableMembers"/>) as they come, then waits: once the
/// body is accepted (<see cref="Accept"/>) and the retry loop is waiting for the try's answer (<see cref="Send"/>), the
/// enricher's rest of the body and its end; once refused, the send fails, and the upstream is left with a body that
/// never ends, which it can neither answer nor bill.
/// </summary>
/// <remarks>
/// It owns every array the reader fills (a try may still be sending from one the reader has outgrown) and their share
/// of the buffer budget, until the call and every try have let go.
/// </remarks>
public sealed class StreamedRequestBody : IDisposable
{
    private static readonly ReadOnlyMemory<byte> ObjectStart = "{"u8.ToArray();
    private static readonly ReadOnlyMemory<byte> MemberSeparator = ","u8.ToArray();

    private readonly Lock _lock = new();
    private readonly ForwardableMembers _members = new();
    private readonly RequestBufferBudget _budget;
    private readonly List<(byte[] Array, int Held)> _arrays = [];
    private readonly TaskCompletionSource<UpstreamBodyBuffer> _verdict = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private UpstreamBodyBuffer? _accepted;
    /// <summary>
    /// The sender is woken for every this many new bytes (and at the end), not for every read: a chunk per read was
    /// ~4.5 KiB and three send calls, and the sender fell ~3 ms behind a 9 MiB body.
    /// </summary>
    private const int SendBatchBytes = 64 * 1024;

    private TaskCompletionSource? _arrived;
    private int _woken; // the body's length when the sender was last woken
    private bool _complete;
    private int _holders = 1; // the call's own hold, let go by Dispose
    private int _disposed;

    private StreamedRequestBody(RequestBufferBudget budget) => _budget = budget;

    /// <summary>A body to stream, or null: too small to gain, of unknown length, or streaming is off (0).</summary>
    public static StreamedRequestBody? For(HttpRequest request, long streamFromBytes, long maxBytes, RequestBufferBudget budget) =>
        streamFromBytes > 0 && request.ContentLength is { } length && length >= streamFromBytes && length <= maxBytes
            ? new StreamedRequestBody(budget)
            : null;

    /// <summary>The members sent (or being sent) ahead of the verdict; read by step 4 once the body is in.</summary>
    internal ForwardableMembers Members => _members;

    /// <summary>The reader's array from now on; this keeps it, and its <paramref name="held"/> bytes of the budget, until everyone has let go.</summary>
    internal void Own(byte[] array, int held)
    {
        lock (_lock) _arrays.Add((array, held));
    }

    /// <summary>The body so far is <paramref name="length"/> bytes of the array last owned: scan them and wake the sender.</summary>
    internal void Arrived(int length)
    {
        lock (_lock)
        {
            _members.Scan(_arrays[^1].Array.AsSpan(0, length));
            if (length - _woken < SendBatchBytes) return;
            _woken = length;
        }
        Interlocked.Exchange(ref _arrived, null)?.TrySetResult();
    }

    /// <summary>The whole body has arrived.</summary>
    internal void Complete()
    {
        lock (_lock) _complete = true;
        Interlocked.Exchange(ref _arrived, null)?.TrySetResult();
    }

    /// <summary>
    /// Steps 2 and 4 accepted the body: <paramref name="rest"/> (an object of the members not sent) will complete it,
    /// once a try is waiting for its answer (<see cref="Send"/>). Held until everyone has let go.
    /// </summary>
    public void Accept(UpstreamBodyBuffer rest)
    {
        ObjectDisposedException.ThrowIf(!rest.TryHold(), rest);
        if (Interlocked.CompareExchange(ref _accepted, rest, null) is not null) rest.LetGo();
    }

    /// <summary>
    /// The retry loop sends a try and waits for its answer: an accepted body may now end. Called by the loop, not by
    /// the endpoint, so a call that fails between acceptance and its forwarding never completes a body upstream.
    /// </summary>
    internal void Send()
    {
        if (Volatile.Read(ref _accepted) is { } rest) _verdict.TrySetResult(rest);
    }

    /// <summary>The body is refused, too large or abandoned: every send fails before it ends. No effect once accepted.</summary>
    public void Refuse()
    {
        if (_verdict.TrySetException(new BodyRefusedException())) _ = _verdict.Task.Exception; // observed: no try may be waiting
    }

    /// <summary>Writes the body: as it arrives, then (after the verdict) its rest; a retry writes it all at once.</summary>
    internal async Task WriteToAsync(Stream stream, CancellationToken cancellationToken)
    {
        await stream.WriteAsync(ObjectStart, cancellationToken);
        var next = 0; // the segment being sent
        var sent = -1; // how far into it; -1: not begun (its separator not written)
        while (true)
        {
            ReadOnlyMemory<byte> bytes = default;
            Task? more = null;
            var separate = false;
            var done = false;
            lock (_lock)
            {
                if (next < _members.Count)
                {
                    var segment = _members[next];
                    separate = sent < 0 && next > 0;
                    var from = sent < 0 ? segment.Start : sent;
                    bytes = _arrays[^1].Array.AsMemory(from, segment.End - from);
                    var open = next == _members.Count - 1 && _members.LastIsOpen && !_complete;
                    if (open) sent = segment.End;
                    else (next, sent) = (next + 1, -1);
                    if (open && bytes.IsEmpty) more = Waiter();
                }
                else if (_complete)
                {
                    done = true;
                }
                else
                {
                    more = Waiter();
                }
            }
            if (separate) await stream.WriteAsync(MemberSeparator, cancellationToken);
            if (!bytes.IsEmpty) await stream.WriteAsync(bytes, cancellationToken);
            if (done) break;
            if (more is not null)
            {
                await stream.FlushAsync(cancellationToken); // what has arrived goes on now, not when a buffer fills
                await more.WaitAsync(cancellationToken);
            }
        }

        var rest = await _verdict.Task.WaitAsync(cancellationToken); // throws once refused
        if (!_members.EndsOnMemberBoundary) throw new BodyRefusedException(); // not completable (the call is then forwarded whole)
        if (_members.Count > 0) await stream.WriteAsync(MemberSeparator, cancellationToken);
        await stream.WriteAsync(rest.Memory[1..], cancellationToken); // the rest without its '{'
    }

    /// <summary>A wait for the next bytes; under the lock, so an arrival between the check and the wait is not missed.</summary>
    private Task Waiter()
    {
        var waiter = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        Volatile.Write(ref _arrived, waiter);
        return waiter.Task;
    }

    /// <summary>A try's hold while it sends; false once everyone has let go.</summary>
    internal bool TryHold() => Holds.TryAdd(ref _holders);

    internal void LetGo()
    {
        if (Interlocked.Decrement(ref _holders) != 0) return;
        lock (_lock)
        {
            foreach (var (array, held) in _arrays)
            {
                _budget.Return(held);
                ArrayPool<byte>.Shared.Return(array);
            }
            _arrays.Clear();
        }
        Volatile.Read(ref _accepted)?.LetGo();
    }

    /// <summary>The call's end: refuses the body if no verdict came, and lets go of the call's hold once.</summary>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0) return;
        Refuse();
        LetGo();
    }

    /// <summary>Why a send of a streamed body ended without its end: the body was refused or abandoned.</summary>
    public sealed class BodyRefusedException() : Exception("The request body was refused before it was complete; the upstream was not sent its end.");
}
