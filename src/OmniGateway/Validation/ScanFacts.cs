namespace OmniGateway.Validation;

/// <summary>
/// What a streamed body's scan (<see cref="ForwardableMembers"/>) already checked as the body arrived, so the rules do
/// not search a 9 MiB payload again after it is in (issue 11, target 5). <c>default</c>: nothing is known, every check runs.
/// </summary>
internal readonly ref struct ScanFacts
{
    private readonly ReadOnlySpan<byte> _body;
    private readonly ForwardableMembers? _scan;

    /// <param name="body">The body the document was parsed from (its strings are slices of it).</param>
    public ScanFacts(ReadOnlySpan<byte> body, ForwardableMembers? scan)
    {
        _body = body;
        _scan = scan;
    }

    /// <summary>False once the scan saw the whole object and no backslash in any string.</summary>
    public bool MayHoldEscapes => _scan is not { KnownFreeOfEscapes: true };

    /// <summary>This slice of the body is a string's base64 that the scan found valid (as <see cref="System.Buffers.Text.Base64.IsValid(ReadOnlySpan{byte})"/> would).</summary>
    public bool KnownValidBase64(ReadOnlySpan<byte> base64) =>
        _scan is not null && _body.Overlaps(base64, out var offset) && _scan.ValidBase64(offset, base64.Length);
}
