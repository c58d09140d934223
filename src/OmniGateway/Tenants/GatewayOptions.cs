namespace OmniGateway.Tenants;

/// <summary><c>Gateway:</c> — who may call, and how much a request may carry.</summary>
public sealed class GatewayOptions
{
    public List<TenantOptions> Tenants { get; set; } = [];

    /// <summary>Hex SHA-256 of the admin key (production).</summary>
    public string? AdminKeySha256 { get; set; }

    /// <summary>Plain admin key, for development only; hashed at start-up and never logged.</summary>
    public string? AdminKey { get; set; }

    /// <summary>
    /// Largest accepted <c>/v1/responses</c> body. Above it: 413 before the body is read. 16 MiB: the upstream
    /// takes inline base64 under 10 MB, plus room for the text around it.
    /// </summary>
    public long MaxRequestBodyBytes { get; set; } = 16L * 1024 * 1024;

    /// <summary>
    /// A body whose <c>Content-Length</c> is at least this many bytes goes upstream while it arrives, chunked, and is
    /// completed once validated, or never (refused); 0: every body is read whole, then sent. 1 MiB: below it the
    /// body's own transfer costs less than a millisecond on a fast link.
    /// </summary>
    public long StreamRequestBodiesFromBytes { get; set; } = 1024 * 1024;

    /// <summary>
    /// How long a <c>/v1/responses</c> body may take to arrive, from the first read; past it, 408 <c>request_body_timeout</c> and
    /// the connection is closed. Kestrel's minimum data rate (240 B/s) alone let one caller hold its buffer, the shared
    /// <see cref="MaxBufferedRequestBytes"/> and (for a streamed body) an upstream connection for hours. 2 minutes: 16 MiB
    /// at a little over 1 Mbit/s.
    /// </summary>
    public TimeSpan RequestBodyTimeout { get; set; } = TimeSpan.FromMinutes(2);

    /// <summary>Request bytes all callers together may have buffered at once; past it, 503 <c>server_busy</c>.</summary>
    public long MaxBufferedRequestBytes { get; set; } = 256L * 1024 * 1024;

    /// <summary>
    /// Of those, what one tenant's bodies may hold at once; past it, 429 <c>too_many_request_bodies</c> for that tenant
    /// alone. Unset: a quarter of <see cref="MaxBufferedRequestBytes"/>, but room for one body of <see cref="MaxRequestBodyBytes"/>
    /// (which, as its buffer grows, holds more than its size: <see cref="Validation.RequestBufferBudget.LargestBodyHolds"/>).
    /// </summary>
    public long? MaxBufferedRequestBytesPerTenant { get; set; }

    /// <summary>Failed keys one client address may send per minute before it gets 429 (0: no limit).</summary>
    public int MaxAuthFailuresPerMinute { get; set; } = 20;
}

public sealed class TenantOptions
{
    public string Id { get; set; } = "";
    public string? Name { get; set; }
    public List<string> KeySha256 { get; set; } = [];
    public bool Disabled { get; set; }

    /// <summary>Empty means every served model.</summary>
    public List<string> AllowedModels { get; set; } = [];

    public TenantLimits Limits { get; set; } = new();

    /// <summary>Browser origins this tenant's key may be used from, beside Gateway:Cors:AllowedOrigins.</summary>
    public List<string> AllowedOrigins { get; set; } = [];
}

/// <summary>A null limit is no limit.</summary>
public sealed class TenantLimits
{
    public int? RequestsPerMinute { get; set; }
    public int? ConcurrentStreams { get; set; }
    public long? TokensPerMinute { get; set; }
    public long? DailyTokens { get; set; }
    public long? MonthlyTokens { get; set; }

    /// <summary>Cost budgets, in the currency of the tenant's models' prices (see <see cref="CostCurrency"/>); 0 allows no spend.</summary>
    public decimal? DailyCost { get; set; }
    public decimal? MonthlyCost { get; set; }

    /// <summary>
    /// The currency the cost budgets are in (ISO 4217). Optional: when set, every price of every model the
    /// tenant may use must be in it, so a price table moved to another currency stops start-up instead of
    /// silently reading a USD budget as CNY.
    /// </summary>
    public string? CostCurrency { get; set; }

    [System.Text.Json.Serialization.JsonIgnore]
    public bool HasCostBudget => DailyCost is not null || MonthlyCost is not null;
}
