using System.Collections.Concurrent;
using Microsoft.Extensions.Options;
using OmniGateway.Tenants;

namespace OmniGateway.Validation;

/// <summary>
/// <c>Gateway:MaxBufferedRequestBytes</c>: the request bytes all callers together may hold in the gateway's
/// memory at once. Buffers are counted as they grow with what arrives, so a thousand callers that claim big
/// bodies and send little cost little, and a flood of real big bodies gets 503 <c>server_busy</c>, not an OOM.
/// Each tenant draws on it through its own share (<see cref="ForTenant"/>, <c>Gateway:MaxBufferedRequestBytesPerTenant</c>),
/// so one tenant's bodies cannot take all of it and leave every other tenant with 503s.
/// </summary>
public sealed class RequestBufferBudget
{
    private readonly RequestBufferBudget? _gateway; // set on a tenant's share: the gateway-wide budget it also draws on
    private readonly ConcurrentDictionary<string, RequestBufferBudget>? _shares; // on the gateway-wide budget
    private long _buffered;

    public RequestBufferBudget(IOptions<GatewayOptions> options)
    {
        Capacity = options.Value.MaxBufferedRequestBytes;
        TenantCapacity = TenantShareOf(options.Value);
        _shares = new(StringComparer.Ordinal);
    }

    private RequestBufferBudget(RequestBufferBudget gateway)
    {
        _gateway = gateway;
        Capacity = gateway.TenantCapacity;
        TenantCapacity = gateway.TenantCapacity;
    }

    /// <summary>
    /// The explicit share, else a quarter of the gateway-wide budget but room for one body of the largest size (never more
    /// than the budget: start-up refuses a budget smaller than that body holds).
    /// </summary>
    public static long TenantShareOf(GatewayOptions options) =>
        options.MaxBufferedRequestBytesPerTenant ?? Math.Max(options.MaxBufferedRequestBytes / 4, LargestBodyHolds(options));

    /// <summary>What one body of <c>Gateway:MaxRequestBodyBytes</c> may hold of a budget (streamed, when such a body would be).</summary>
    public static long LargestBodyHolds(GatewayOptions options) => RequestBodyReader.MostHeld(options.MaxRequestBodyBytes,
        streamed: options.StreamRequestBodiesFromBytes > 0 && options.StreamRequestBodiesFromBytes <= options.MaxRequestBodyBytes);

    public long Capacity { get; }

    /// <summary>What each tenant's share may hold.</summary>
    public long TenantCapacity { get; }

    /// <summary>Bytes held right now (on the gateway-wide budget: by every tenant).</summary>
    public long Buffered => Interlocked.Read(ref _buffered);

    /// <summary>The tenant's share, kept for the process's life: one object per tenant, none per call.</summary>
    public RequestBufferBudget ForTenant(string tenantId) =>
        _shares is null ? this : _shares.GetOrAdd(tenantId, static (_, gateway) => new RequestBufferBudget(gateway), this);

    public bool TryTake(long bytes) => Take(bytes) == BufferTake.Taken;

    /// <summary>Takes from the gateway-wide budget first, then (on a share) from the tenant's: a full gateway is reported as such.</summary>
    public BufferTake Take(long bytes)
    {
        if (_gateway is not null && !_gateway.TryTake(bytes)) return BufferTake.GatewayFull;
        if (Interlocked.Add(ref _buffered, bytes) <= Capacity) return BufferTake.Taken;
        Interlocked.Add(ref _buffered, -bytes);
        _gateway?.Return(bytes);
        return _gateway is null ? BufferTake.GatewayFull : BufferTake.TenantFull;
    }

    public void Return(long bytes)
    {
        Interlocked.Add(ref _buffered, -bytes);
        _gateway?.Return(bytes);
    }
}

public enum BufferTake { Taken, GatewayFull, TenantFull }
