using System.Net;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.Diagnostics.Metrics.Testing;

namespace OmniGateway.IntegrationTests.RateLimiting;

/// <summary>The one admission step: each refusal names its limit, tokens per minute is fed by stored records, limits change live.</summary>
public sealed class AdmissionTests : GatewayTest
{
    private const string AdminKey = "og-test-admin-key-cccccccccccccccccccccccccccccccc";

    protected override IDictionary<string, string?> Settings => new Dictionary<string, string?>
    {
        ["Gateway:Tenants:0:Limits:TokensPerMinute"] = "500",
        ["Gateway:AdminKey"] = AdminKey,
    };

    private static StringContent Body() =>
        new("""{"model":"qwen3.5-omni-plus-all","input":"Hi","stream":true,"modalities":["text"]}""", Encoding.UTF8, "application/json");

    [Fact]
    public async Task CallReportingMoreThanTheMinutesTokens_MakesTheNextCall429TokensPerMinuteExceeded_CountedByLimit()
    {
        using var refusals = new MetricCollector<long>(Gateway.Services.GetRequiredService<System.Diagnostics.Metrics.IMeterFactory>(),
            "OmniGateway", "omnigateway.admission.refusals");
        Upstream.Respond = context => FakeUpstream.ModelAsync(context, wantedOutputTokens: 600, TimeSpan.Zero);

        using (var first = await Client.PostAsync("/v1/responses", Body()))
        {
            Assert.Equal(HttpStatusCode.OK, first.StatusCode);
            Assert.Contains("\"output_tokens\":600", await first.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        }
        using var second = await Client.PostAsync("/v1/responses", Body());

        Assert.Equal(HttpStatusCode.TooManyRequests, second.StatusCode);
        Assert.Equal("tokens_per_minute_exceeded", (await ErrorOf(second)).GetProperty("code").GetString());
        Assert.InRange(second.Headers.RetryAfter?.Delta ?? TimeSpan.Zero, TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(60));
        Assert.Single(Upstream.Requests); // refused before any upstream call
        var refusal = Assert.Single(refusals.GetMeasurementSnapshot());
        Assert.Equal("tokens_per_minute", refusal.Tags["limit"]);
    }

    [Fact]
    public async Task LimitChangedThroughTheAdminApi_AppliesFromTheNextRequest()
    {
        using var admin = Gateway.CreateTenantClient(AdminKey);
        using (var created = await admin.PostAsJsonAsync("/admin/tenants", new { Id = "live", Limits = new { RequestsPerMinute = 100 } }))
            Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        using var issued = JsonDocument.Parse(await (await admin.PostAsync("/admin/tenants/live/keys", null)).Content.ReadAsStringAsync());
        using var tenant = Gateway.CreateTenantClient(issued.RootElement.GetProperty("Key").GetString()!);
        Upstream.Respond = context => FakeUpstream.ModelAsync(context, wantedOutputTokens: 20, TimeSpan.Zero);

        for (var i = 0; i < 3; i++)
        {
            using var call = await tenant.PostAsync("/v1/responses", Body());
            Assert.Equal(HttpStatusCode.OK, call.StatusCode);
        }
        using (var patched = await admin.PatchAsJsonAsync("/admin/tenants/live", new { Limits = new { RequestsPerMinute = 1 } }))
            Assert.Equal(HttpStatusCode.OK, patched.StatusCode);

        using (var allowed = await tenant.PostAsync("/v1/responses", Body()))
            Assert.Equal(HttpStatusCode.OK, allowed.StatusCode);
        using var refused = await tenant.PostAsync("/v1/responses", Body());
        Assert.Equal(HttpStatusCode.TooManyRequests, refused.StatusCode);
        Assert.Equal("requests_per_minute_exceeded", (await ErrorOf(refused)).GetProperty("code").GetString());
        Assert.True(refused.Headers.RetryAfter?.Delta > TimeSpan.Zero);
    }
}
