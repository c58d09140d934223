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
        using (var response = await client.PostAsync("/v1/responses",
                   new StringContent("""{"model":"qwen3.5-omni-plus-all","input":"Hi","stream":true}""", Encoding.UTF8, "application/json")))
        {
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            await response.Content.ReadAsStringAsync();
        }

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
    }
}
