using System.Diagnostics.Metrics;

namespace OmniGateway.RateLimiting;

/// <summary><c>omnigateway_admission_refusals_total{limit}</c>: calls refused, by the limit that refused them.</summary>
public sealed class AdmissionMetrics
{
    private readonly Counter<long> _refusals;

    public AdmissionMetrics(IMeterFactory meterFactory)
    {
        var meter = meterFactory.Create(Observability.GatewayMetrics.MeterName);
        _refusals = meter.CreateCounter<long>("omnigateway.admission.refusals", description: "Calls refused at admission, by the limit that refused them");
    }

    public void Refused(string limit) => _refusals.Add(1, new KeyValuePair<string, object?>("limit", limit));
}
