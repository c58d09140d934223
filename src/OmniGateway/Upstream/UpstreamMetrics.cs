using System.Diagnostics.Metrics;
using OmniGateway.Observability;

namespace OmniGateway.Upstream;

/// <summary>Retries and destination health, on the gateway's meter: <c>omnigateway_upstream_retries_total</c>,
/// <c>omnigateway_upstream_destination_ejections_total</c> and the <c>omnigateway_upstream_destination_up</c> gauge, by destination index.</summary>
public sealed class UpstreamMetrics
{
    private readonly Meter _meter;
    private readonly Counter<long> _retries;
    private readonly Counter<long> _ejections;
    private readonly string[] _indexes = [.. Enumerable.Range(0, UpstreamDestinations.MaxCount).Select(i => i.ToString(System.Globalization.CultureInfo.InvariantCulture))];

    public UpstreamMetrics(IMeterFactory meterFactory)
    {
        _meter = meterFactory.Create(GatewayMetrics.MeterName);
        _retries = _meter.CreateCounter<long>("omnigateway.upstream.retries", description: "Upstream tries repeated before the first byte reached the client, by destination and reason");
        _ejections = _meter.CreateCounter<long>("omnigateway.upstream.destination.ejections", description: "Times a destination was taken out of rotation");
    }

    /// <param name="reason">Bounded: <c>connection_failure</c>, <c>http_429</c>, <c>http_502</c>, <c>http_503</c>, <c>http_504</c>, <c>key_refused</c>.</param>
    public void Retried(int destination, string reason) =>
        _retries.Add(1, new KeyValuePair<string, object?>("destination", _indexes[destination]), new KeyValuePair<string, object?>("reason", reason));

    public void TakenOut(int destination) => _ejections.Add(1, new KeyValuePair<string, object?>("destination", _indexes[destination]));

    /// <summary>1 while a destination is in rotation, 0 while it is out.</summary>
    public void Observe(UpstreamDestinations destinations) =>
        _meter.CreateObservableGauge("omnigateway.upstream.destination.up", () => destinations.States()
            .Select(s => new Measurement<int>(s.InRotation ? 1 : 0, new KeyValuePair<string, object?>("destination", _indexes[s.Index]))),
            description: "1 while the upstream destination is in rotation, 0 while it is taken out");
}
