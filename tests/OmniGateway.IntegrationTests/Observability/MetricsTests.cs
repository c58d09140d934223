using System.Net;
using System.Diagnostics.Metrics;
using System.Text;
using Microsoft.Extensions.Diagnostics.Metrics.Testing;

namespace OmniGateway.IntegrationTests.Observability;

/// <summary>
/// Metric values through <see cref="MetricCollector{T}"/>; one test scrapes <c>/metrics</c> as the Prometheus
/// exporter's end-to-end check (names, units, buckets, no secrets).
/// </summary>
public sealed class MetricsTests
{
    [Fact]
    public async Task Metrics_CountCallsByOutcomeAndTokens_InPrometheusFormat()
    {
        await using var gateway = new GatewayFactory(upstream: null);
        using var client = gateway.CreateTenantClient();
        await StreamOneAnswerAsync(client);

        // The exporter caches a scrape briefly; poll rather than assume when the counter lands.
        string text = "";
        for (var attempt = 0; attempt < 20 && !text.Contains("omnigateway_responses_total", StringComparison.Ordinal); attempt++)
        {
            text = await client.GetStringAsync("/metrics");
            if (!text.Contains("omnigateway_responses_total", StringComparison.Ordinal)) await Task.Delay(250);
        }

        Assert.Contains("omnigateway_responses_total{", text);
        Assert.Contains("outcome=\"completed\"", text);
        Assert.Contains("omnigateway_tokens_total{", text);
        Assert.DoesNotContain(GatewayFactory.TenantKey, text);
        // Conventions: durations in seconds (with buckets shaped for seconds), counters as _total.
        Assert.Contains("omnigateway_time_to_first_event_seconds_bucket{", text);
        Assert.Contains("omnigateway_response_duration_seconds_bucket{", text);
        Assert.Contains("le=\"0.25\"", text);
        Assert.DoesNotContain("_milliseconds", text);
        Assert.Contains("omnigateway_streams_active", text);
        // The ledger's and the runtime's meters reach the exporter too.
        Assert.Contains("omnigateway_ledger_records_total", text);
        Assert.Contains("omnigateway_ledger_commits_total", text);
        Assert.Contains("omnigateway_ledger_commit_time_seconds_total", text);
        Assert.Contains("omnigateway_ledger_queue_depth", text);
        Assert.Contains("dotnet_gc_heap_total_allocated_bytes_total", text);
    }

    [Fact]
    public async Task LedgerRecordsMetric_CountsTheCommittedCall()
    {
        await using var gateway = new GatewayFactory(upstream: null);
        using var client = gateway.CreateTenantClient();
        using var records = new MetricCollector<long>(gateway.Services.GetRequiredService<IMeterFactory>(), "OmniGateway", "omnigateway.ledger.records");
        await StreamOneAnswerAsync(client);

        // The record is committed before the stream ends.
        records.RecordObservableInstruments();
        Assert.True(records.LastMeasurement?.Value >= 1, $"omnigateway.ledger.records did not count the call: {records.LastMeasurement?.Value}");
    }

    private static async Task StreamOneAnswerAsync(HttpClient client)
    {
        using var response = await client.PostAsync("/v1/responses",
            new StringContent("""{"model":"qwen3.5-omni-plus-all","input":"Hi","stream":true}""", Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        await response.Content.ReadAsStringAsync();
    }
}
