using System.Net;

namespace OmniGateway.IntegrationTests.Hardening;

/// <summary>Issue 9.7: every refused request leaves one Information line with request id, tenant, status, code and param.</summary>
public sealed class RefusalLogTests : GatewayTest
{
    protected override IDictionary<string, string?>? Settings => new Dictionary<string, string?> { ["Gateway:MaxRequestBodyBytes"] = "2048" };

    [Fact]
    public async Task RefusedRequests_400_404_413_401_EachLeaveOneLine()
    {
        var answers = new List<(HttpResponseMessage Response, int Status, string Code, string? Param, string Tenant)>
        {
            (await Client.PostAsync("/v1/responses", Json("""{"model":"qwen3.5-omni-plus-all","input":"Hi","audio":{"voice":"Nobody"}}""")), 400, "unknown_voice", "audio.voice", "web"),
            (await Client.PostAsync("/v1/responses", Json("""{"model":"qwen3.5-omni-plus-all","Model":"x","input":"Hi"}""")), 400, "invalid_json", "Model", "web"),
            (await Client.GetAsync("/v1/nothing-here"), 404, "not_found", null, "-"),
            (await Client.PostAsync("/v1/responses", Json("{\"model\":\"qwen3.5-omni-plus-all\",\"input\":\"" + new string('a', 4096) + "\"}")), 413, "request_too_large", null, "web"),
            (await Anonymous.GetAsync("/v1/models"), 401, "missing_api_key", null, "-"),
        };

        foreach (var (response, status, code, param, tenant) in answers)
        {
            using (response)
            {
                Assert.Equal(status, (int)response.StatusCode);
                var requestId = response.Headers.GetValues("x-request-id").Single();
                var line = Assert.Single(Gateway.Logs.GetSnapshot(), e => e.Id.Id == 1100 && e.GetStructuredStateValue("RequestId") == requestId);
                Assert.Equal(status.ToString(System.Globalization.CultureInfo.InvariantCulture), line.GetStructuredStateValue("Status"));
                Assert.Equal(code, line.GetStructuredStateValue("Code"));
                Assert.Equal(param ?? "-", line.GetStructuredStateValue("Param"));
                Assert.Equal(tenant, line.GetStructuredStateValue("TenantId"));
            }
        }
        Assert.Empty(Upstream.Requests);
    }
}
