using Microsoft.Extensions.Options;
using OmniGateway.Tenants;

namespace OmniGateway.Validation;

/// <summary>
/// <c>Gateway:MaxBufferedRequestBytes</c>: the request bytes all callers together may hold in the gateway's
/// memory at once. Buffers are counted as they grow with what arrives, so a thousand callers that claim big
/// bodies and send little cost little, and a flood of real big bodies gets 503 <c>server_busy</c>, not an OOM.
/// </summary>
public sealed class RequestBufferBudget(IOptions<GatewayOptions> options)
{
    private long _buffered;

    public long Capacity { get; } = options.Value.MaxBufferedRequestBytes;

    /// <summary>Bytes held right now.</summary>
    public long Buffered => Interlocked.Read(ref _buffered);

    public bool TryTake(long bytes)
    {
        if (Interlocked.Add(ref _buffered, bytes) <= Capacity) return true;
        Interlocked.Add(ref _buffered, -bytes);
        return false;
    }

    public void Return(long bytes) => Interlocked.Add(ref _buffered, -bytes);
}
