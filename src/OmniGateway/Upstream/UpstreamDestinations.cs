using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace OmniGateway.Upstream;

/// <summary>One upstream endpoint with its key. Its health fields are guarded by the owning set's lock.</summary>
public sealed class UpstreamDestination(int index, string baseUrl, int weight, string authorizationValue, string? key)
{
    public int Index { get; } = index;
    public string BaseUrl { get; } = baseUrl;
    public Uri ResponsesUri { get; } = new(baseUrl + "/v1/responses");
    public int Weight { get; } = weight;

    /// <summary>Sent upstream only; scrubbed from anything the upstream sends back.</summary>
    internal string AuthorizationValue { get; } = authorizationValue;
    internal string? Key { get; } = key;

    internal long CurrentWeight;
    internal int ConsecutiveFailures;
    internal int Ejections;
    internal DateTimeOffset? OutUntil;
    internal string? OutReason;
}

/// <summary>What <c>/readyz</c> and the metrics show of a destination: its index and state, never its key.</summary>
public sealed record UpstreamDestinationState(int Index, int Weight, string State, string? Reason, double? SecondsLeft)
{
    public const string Healthy = "healthy", Failing = "failing", Out = "out";

    public bool InRotation => State != Out;
}

/// <summary>
/// The configured destinations, a weighted picker and passive health. Picks are smooth weighted
/// round-robin (nginx's): exact shares over any window, and deterministic, so tests need not be
/// statistical. A destination that refuses the key (401/403) goes out at once; one that answers
/// 429/5xx or cannot be reached <c>Upstream:FailuresBeforeBackoff</c> times in a row goes out for
/// <c>Upstream:DestinationBackoff</c>, doubled per repeat; afterwards one more failure takes it out again.
/// When every destination is out the picker still uses them (YARP's "panic" policy): refusing every call is worse.
/// YARP's own load-balancing and health policies work on a cluster behind its routing pipeline, not on a
/// direct <c>IHttpForwarder</c> call, and offer no weights; hence this small one.
/// </summary>
public sealed partial class UpstreamDestinations
{
    /// <summary>Calls track the destinations they already tried in one 64-bit mask.</summary>
    public const int MaxCount = 64;

    private readonly UpstreamDestination[] _all;
    private readonly TimeProvider _time;
    private readonly int _failuresBeforeBackoff;
    private readonly TimeSpan _backoff;
    private readonly ILogger _logger;
    private readonly UpstreamMetrics? _metrics;
    private readonly Lock _lock = new();

    public UpstreamDestinations(IReadOnlyList<UpstreamDestination> all, UpstreamOptions options, TimeProvider time, ILogger logger, UpstreamMetrics? metrics = null)
    {
        _all = [.. all];
        (_time, _failuresBeforeBackoff, _backoff, _logger, _metrics) = (time, options.FailuresBeforeBackoff, options.DestinationBackoff, logger, metrics);
    }

    public IReadOnlyList<UpstreamDestination> All => _all;

    /// <summary>
    /// The next destination for a try: in rotation and not yet tried by this call if there is one;
    /// else in rotation; else (all out) not yet tried; else any.
    /// </summary>
    public UpstreamDestination Pick(ulong tried)
    {
        if (_all.Length == 1) return _all[0];
        lock (_lock)
        {
            var now = _time.GetUtcNow();
            return PickAmong(d => InRotation(d, now) && !Tried(d, tried))
                ?? PickAmong(d => InRotation(d, now))
                ?? PickAmong(d => !Tried(d, tried))
                ?? PickAmong(_ => true)!; // at least one destination is configured
        }
    }

    /// <summary>True when a destination in rotation that this call has not tried remains: retry there, without waiting.</summary>
    public bool HasUntried(ulong tried)
    {
        lock (_lock)
        {
            var now = _time.GetUtcNow();
            foreach (var d in _all) if (InRotation(d, now) && !Tried(d, tried)) return true;
            return false;
        }
    }

    public static ulong MarkTried(ulong tried, UpstreamDestination destination) => tried | (1UL << destination.Index);

    /// <summary>An answer that says nothing against the destination (2xx, or a refusal of the request itself).</summary>
    public void ReportSuccess(UpstreamDestination destination)
    {
        if (destination.ConsecutiveFailures == 0 && destination.Ejections == 0) return; // the common case takes no lock
        lock (_lock)
        {
            destination.ConsecutiveFailures = 0;
            destination.Ejections = 0;
        }
    }

    /// <summary>A 429/5xx answer or a connection failure; repeated, it takes the destination out.</summary>
    public void ReportFailure(UpstreamDestination destination, string reason, TimeSpan? retryAfter = null)
    {
        lock (_lock)
        {
            if (++destination.ConsecutiveFailures >= _failuresBeforeBackoff)
                TakeOut(destination, $"{reason} ({destination.ConsecutiveFailures} times in a row)", retryAfter);
        }
    }

    /// <summary>The destination refused its key (401/403): no point in sending it more calls for a while.</summary>
    public void ReportKeyRefused(UpstreamDestination destination, int status)
    {
        lock (_lock) TakeOut(destination, $"refused the key (HTTP {status})", null);
    }

    public IReadOnlyList<UpstreamDestinationState> States()
    {
        lock (_lock)
        {
            var now = _time.GetUtcNow();
            return [.. _all.Select(d => InRotation(d, now)
                ? new UpstreamDestinationState(d.Index, d.Weight, d.ConsecutiveFailures > 0 ? UpstreamDestinationState.Failing : UpstreamDestinationState.Healthy,
                    d.ConsecutiveFailures > 0 ? $"{d.ConsecutiveFailures} failure(s) in a row" : null, null)
                : new UpstreamDestinationState(d.Index, d.Weight, UpstreamDestinationState.Out, d.OutReason,
                    Math.Ceiling((d.OutUntil!.Value - now).TotalSeconds)))]; // InRotation is false only with OutUntil set
        }
    }

    /// <summary>
    /// Readiness: each destination's state by index (never its key). Degraded, not unhealthy, while any is
    /// out: the gateway keeps serving, and taking every replica out of its load balancer would help nobody.
    /// </summary>
    public HealthCheckResult Readiness()
    {
        var states = States();
        var text = string.Join("; ", states.Select(s => s.State switch
        {
            UpstreamDestinationState.Out => $"destination {s.Index}: out for {s.SecondsLeft} s, it {s.Reason}",
            UpstreamDestinationState.Failing => $"destination {s.Index}: failing, {s.Reason}",
            _ => $"destination {s.Index}: healthy",
        }));
        var description = _all.Length == 1 ? $"live upstream {_all[0].BaseUrl} ({text})" : $"{_all.Length} live upstream destinations ({text})";
        var data = states.ToDictionary(s => $"destination_{s.Index}", s => (object)s.State);
        return states.All(s => s.InRotation) ? HealthCheckResult.Healthy(description, data) : HealthCheckResult.Degraded(description, data: data);
    }

    private UpstreamDestination? PickAmong(Func<UpstreamDestination, bool> eligible)
    {
        UpstreamDestination? best = null;
        long total = 0;
        foreach (var d in _all)
        {
            if (!eligible(d)) continue;
            d.CurrentWeight += d.Weight;
            total += d.Weight;
            if (best is null || d.CurrentWeight > best.CurrentWeight) best = d;
        }
        if (best is not null) best.CurrentWeight -= total;
        return best;
    }

    private static bool Tried(UpstreamDestination d, ulong tried) => (tried & (1UL << d.Index)) != 0;

    private bool InRotation(UpstreamDestination d, DateTimeOffset now)
    {
        if (d.OutUntil is not { } until) return true;
        if (until > now) return false;
        // Back on probation: one more failure takes it out again, for twice as long.
        d.OutUntil = null;
        d.OutReason = null;
        d.ConsecutiveFailures = _failuresBeforeBackoff - 1;
        Log.BackInRotation(_logger, d.Index);
        return true;
    }

    private void TakeOut(UpstreamDestination destination, string reason, TimeSpan? retryAfter)
    {
        var period = _backoff * (1 << Math.Min(destination.Ejections, 4));
        if (retryAfter > period) period = retryAfter.Value;
        destination.Ejections++;
        destination.ConsecutiveFailures = 0;
        destination.OutUntil = _time.GetUtcNow() + period;
        destination.OutReason = reason;
        Log.TakenOut(_logger, destination.Index, reason, period.TotalSeconds);
        _metrics?.TakenOut(destination.Index);
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 5110, Level = LogLevel.Warning,
            Message = "Upstream destination {Destination} taken out of rotation for {BackoffSeconds} s: it {Reason}")]
        public static partial void TakenOut(ILogger logger, int destination, string reason, double backoffSeconds);

        [LoggerMessage(EventId = 5111, Level = LogLevel.Information, Message = "Upstream destination {Destination} is back in rotation")]
        public static partial void BackInRotation(ILogger logger, int destination);
    }
}
