namespace OmniGateway.Validation;

/// <summary>
/// What a streamed body's scan (<see cref="ForwardableMembers"/>) already settled as the body arrived, so the rules do
/// not search a 9 MiB payload again after it is in (issue 11, target 5). <c>default</c>: nothing is known, every check runs.
/// </summary>
/// <param name="skeleton">What was parsed in the body's place, if anything: its strings' lengths are mapped back.</param>
internal readonly struct ScanFacts(ForwardableMembers? scan, BodySkeleton? skeleton)
{
    /// <summary>False once the scan saw the whole object and no backslash in any string.</summary>
    public bool MayHoldEscapes => scan is not { KnownFreeOfEscapes: true };

    /// <summary>The length in the body of a slice of the parsed bytes (a string's raw value): what the skeleton left out counts.</summary>
    public int Length(ReadOnlySpan<byte> slice) => skeleton?.Length(slice) ?? slice.Length;
}
