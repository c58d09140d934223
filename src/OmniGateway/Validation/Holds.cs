namespace OmniGateway.Validation;

/// <summary>
/// The holders of a pooled body: the call's own hold plus one per upstream try sending it. Once the count reaches zero
/// the body's arrays are back in the pool, and no try may hold it again (it would send another call's bytes).
/// </summary>
internal static class Holds
{
    /// <summary>Adds a hold unless everyone has already let go.</summary>
    public static bool TryAdd(ref int holders)
    {
        var seen = Volatile.Read(ref holders);
        while (seen > 0)
        {
            var before = Interlocked.CompareExchange(ref holders, seen + 1, seen);
            if (before == seen) return true;
            seen = before;
        }
        return false;
    }
}
