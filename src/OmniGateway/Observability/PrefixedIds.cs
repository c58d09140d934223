namespace OmniGateway.Observability;

/// <summary>Ids such as <c>req_…</c> and <c>rec_…</c>: a prefix and a GUID's 32 hex digits, written into one string.</summary>
public static class PrefixedIds
{
    public static string Of(string prefix, Guid value) => string.Create(prefix.Length + 32, (prefix, value), static (id, state) =>
    {
        state.prefix.CopyTo(id);
        state.value.TryFormat(id[state.prefix.Length..], out _, "N");
    });
}
