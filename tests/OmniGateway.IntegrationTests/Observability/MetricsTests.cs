using System.Net;
using System.Text;

namespace OmniGateway.IntegrationTests.Observability;

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
    }

    [Fact]
    public async Task Metrics_ShowTheLedgersCommitsAndTheRuntimesHeap()
    {
        await using var gateway = new GatewayFactory(upstream: null);
        using var client = gateway.CreateTenantClient();
        await StreamOneAnswerAsync(client);

        // The record is committed before the stream ends, but the exporter caches a scrape briefly.
        string text = "";
        for (var attempt = 0; attempt < 20 && LedgerRecords(text) < 1; attempt++)
        {
            await Task.Delay(250);
            text = await client.GetStringAsync("/metrics");
        }

        Assert.True(LedgerRecords(text) >= 1, "omnigateway_ledger_records_total did not count the call:\n" + text);
        Assert.Contains("omnigateway_ledger_commits_total", text);
        Assert.Contains("omnigateway_ledger_commit_time_seconds_total", text);
        Assert.Contains("omnigateway_ledger_queue_depth", text);
        Assert.Contains("dotnet_gc_heap_total_allocated_bytes_total", text);
    }

    private static async Task StreamOneAnswerAsync(HttpClient client)
    {
        using var response = await client.PostAsync("/v1/responses",
            new StringContent("""{"model":"qwen3.5-omni-plus-all","input":"Hi","stream":true}""", Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        await response.Content.ReadAsStringAsync();
    }

    private static double LedgerRecords(string metrics) => metrics.Split('\n')
        .Where(l => l.StartsWith("omnigateway_ledger_records_total", StringComparison.Ordinal))
        .Sum(l => double.Parse(l[(l.LastIndexOf(' ') + 1)..], System.Globalization.CultureInfo.InvariantCulture));
}
