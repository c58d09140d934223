using System.Buffers;

namespace OmniGateway.Validation;

/// <summary>
/// Where step 4 writes the enriched body: an array sized for the caller's body (+ the gateway's additions),
/// not zeroed first (<see cref="GC.AllocateUninitializedArray{T}"/>), since every byte handed on is written.
/// A new array (<see cref="ArrayBufferWriter{T}"/>'s) is zeroed: for a 9 MiB inline-audio body that is 9 MiB of
/// memset before the first byte is forwarded (bench/: large bodies). Grows by doubling if ever too small.
/// </summary>
internal sealed class UpstreamBodyWriter(int initialCapacity) : IBufferWriter<byte>
{
    private byte[] _buffer = GC.AllocateUninitializedArray<byte>(Math.Max(initialCapacity, 256));
    private int _written;

    /// <summary>The body: the writer's own array, never copied.</summary>
    public ReadOnlyMemory<byte> WrittenMemory => _buffer.AsMemory(0, _written);

    public void Advance(int count)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(count);
        if (_written > _buffer.Length - count) throw new InvalidOperationException("Advanced past the buffer.");
        _written += count;
    }

    public Memory<byte> GetMemory(int sizeHint = 0)
    {
        var room = Room(sizeHint); // first: it may replace the array
        return _buffer.AsMemory(_written, room);
    }

    public Span<byte> GetSpan(int sizeHint = 0)
    {
        var room = Room(sizeHint);
        return _buffer.AsSpan(_written, room);
    }

    private int Room(int sizeHint)
    {
        var needed = Math.Max(sizeHint, 1);
        if (_buffer.Length - _written < needed)
        {
            var larger = GC.AllocateUninitializedArray<byte>(checked(Math.Max(_buffer.Length * 2, _written + needed)));
            _buffer.AsSpan(0, _written).CopyTo(larger);
            _buffer = larger;
        }
        return _buffer.Length - _written;
    }
}
