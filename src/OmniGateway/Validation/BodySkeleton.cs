using System.Buffers;

namespace OmniGateway.Validation;

/// <summary>
/// What step 4 parses of a streamed body once all of it is in (issue 11, target 5: validate while reading, not after):
/// the body without the middle of its long base64 payloads, bytes the scan (<see cref="ForwardableMembers.AlphabetRuns"/>)
/// found to be base64 alphabet only as they arrived. A 9 MiB payload was otherwise parsed after its last byte, while
/// the first event waited. Leaving whole groups of alphabet bytes out of a string's content changes no verdict: the
/// JSON grammar, the base64's validity, the container signature in its head, every search for a byte outside the
/// alphabet come out the same. Only lengths change, and <see cref="Length"/> gives them back.
/// </summary>
internal sealed class BodySkeleton : IDisposable
{
    private readonly byte[] _array;
    private readonly int _length;
    private readonly List<(int At, int Length)> _leftOut; // At: where in the skeleton the bytes left out were

    private BodySkeleton(byte[] array, int length, List<(int At, int Length)> leftOut) => (_array, _length, _leftOut) = (array, length, leftOut);

    /// <summary>The bytes to parse: the body with the runs left out.</summary>
    public ReadOnlyMemory<byte> Memory => _array.AsMemory(0, _length);

    /// <summary>The skeleton of a whole body the scan followed to its end, or null when nothing would be left out.</summary>
    public static BodySkeleton? Of(ReadOnlySpan<byte> body, ForwardableMembers scan)
    {
        List<(int At, int Length)>? leftOut = null;
        var total = 0;
        foreach (var (from, length) in scan.AlphabetRuns(body))
        {
            (leftOut ??= []).Add((from - total, length));
            total += length;
        }
        if (leftOut is null) return null;

        var array = ArrayPool<byte>.Shared.Rent(body.Length - total);
        var (read, written) = (0, 0);
        foreach (var (at, length) in leftOut)
        {
            var kept = at - written;
            body.Slice(read, kept).CopyTo(array.AsSpan(written));
            (read, written) = (read + kept + length, at);
        }
        body[read..].CopyTo(array.AsSpan(written));
        return new BodySkeleton(array, body.Length - total, leftOut);
    }

    /// <summary>The length in the body of <paramref name="slice"/>, a slice of <see cref="Memory"/> (a string's raw bytes, say).</summary>
    public int Length(ReadOnlySpan<byte> slice)
    {
        if (!Memory.Span.Overlaps(slice, out var offset)) return slice.Length;
        var length = slice.Length;
        foreach (var (at, leftOut) in _leftOut)
        {
            // Runs sit inside string contents, after a kept head and before a kept last group: strictly inside any slice of one.
            if (at > offset && at < offset + slice.Length) length += leftOut;
        }
        return length;
    }

    public void Dispose() => ArrayPool<byte>.Shared.Return(_array);
}
