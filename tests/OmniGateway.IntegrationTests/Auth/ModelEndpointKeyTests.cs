using System.Net;

namespace OmniGateway.IntegrationTests.Auth;

/// <summary>
/// POST /v1/responses checks its key in its own filter, not through the authentication and authorization middleware
/// (issue 11): every answer a key can get there is the one the tenant policy gives elsewhere, the failures feed the
/// same throttle, and each is counted and logged once.
/// </summary>
public sealed class ModelEndpointKeyTests : GatewayTest
{
    private const string AdminKey = "og-test-admin-key-eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee";
    private const string WrongKey = "og-wrong-key-ffffffffffffffffffffffffffffffffff";

    protected override IDictionary<string, string?> Settings => new Dictionary<string, string?>
    {
        ["Gateway:AdminKey"] = AdminKey,
        ["Gateway:MaxAuthFailuresPerMinute"] = "3",
    };

    // Valid JSON the validator refuses: a 400 here means the key was accepted, and nothing reached the upstream.
    private static StringContent EmptyInput() => Json("""{"model":"qwen3.5-omni-plus-all","input":""}""");

    [Theory]
    [MemberData(nameof(TenantKeyTests.ContractHeaderForms), MemberType = typeof(TenantKeyTests))]
    public async Task EveryContractHeaderForm_IsAcceptedByTheModelEndpoint(string header, string value)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, "/v1/responses") { Content = EmptyInput() };
        request.Headers.TryAddWithoutValidation(header, value);

        using var response = await Anonymous.SendAsync(request);

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("empty_input", (await ErrorOf(response)).GetProperty("code").GetString());
        Assert.Empty(Upstream.Requests);
    }

    [Fact]
    public async Task TheAdminKey_Gets403_AsUnderTheTenantPolicy_AndNothingRuns()
    {
        using var admin = Gateway.CreateTenantClient(AdminKey);

        using var model = await admin.PostAsync("/v1/responses", Json("""{"model":"qwen3.5-omni-plus-all","input":"Hi"}"""));
        using var catalog = await admin.GetAsync("/v1/models"); // the same refusal through the policy

        foreach (var response in new[] { model, catalog })
        {
            Assert.Equal(HttpStatusCode.Forbidden, response.StatusCode);
            var error = await ErrorOf(response);
            Assert.Equal("forbidden", error.GetProperty("code").GetString());
            Assert.Contains("admin key cannot call the model API", error.GetProperty("message").GetString(), StringComparison.Ordinal);
            Assert.True(response.Headers.Contains("x-request-id"));
        }
        Assert.Empty(Upstream.Requests);
        Assert.DoesNotContain("eeeeeeeeeeee", Gateway.Logs.AllText(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task WrongKeysOnTheModelEndpoint_FeedTheOneThrottle_EachCountedAndLoggedOnce()
    {
        using var wrong = Gateway.CreateTenantClient(WrongKey);
        var requestIds = new List<string>();
        for (var i = 0; i < 3; i++)
        {
            using var refused = await wrong.PostAsync("/v1/responses", Json("""{"model":"qwen3.5-omni-plus-all","input":"Hi"}"""));
            Assert.Equal(HttpStatusCode.Unauthorized, refused.StatusCode);
            Assert.Equal("invalid_api_key", (await ErrorOf(refused)).GetProperty("code").GetString());
            requestIds.Add(refused.Headers.GetValues("x-request-id").Single());
        }

        // Three failures, not six: each request's key was checked once. The address is now throttled everywhere.
        using (var throttled = await wrong.PostAsync("/v1/responses", Json("""{"model":"qwen3.5-omni-plus-all","input":"Hi"}""")))
        {
            Assert.Equal(HttpStatusCode.TooManyRequests, throttled.StatusCode);
            Assert.True(throttled.Headers.RetryAfter?.Delta > TimeSpan.Zero);
            Assert.Equal("too_many_failed_keys", (await ErrorOf(throttled)).GetProperty("code").GetString());
        }
        using (var elsewhere = await wrong.GetAsync("/v1/models"))
            Assert.Equal(HttpStatusCode.TooManyRequests, elsewhere.StatusCode);
        // A configured tenant behind the same address still gets through.
        using (var valid = await Client.PostAsync("/v1/responses", EmptyInput()))
            Assert.Equal(HttpStatusCode.BadRequest, valid.StatusCode);

        var refusals = Gateway.Logs.GetSnapshot().Where(e => e.Id.Id == 1100 && e.GetStructuredStateValue("Code") == "invalid_api_key").ToList();
        Assert.Equal(requestIds.Order(), refusals.Select(e => e.GetStructuredStateValue("RequestId")!).Order());
        Assert.All(refusals, e => Assert.Equal("-", e.GetStructuredStateValue("TenantId")));
        Assert.Empty(Upstream.Requests);
        Assert.DoesNotContain("ffffffffffff", Gateway.Logs.AllText(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task NoKey_Gets401MissingApiKey_WithItsReasonLoggedOnce()
    {
        using var response = await Anonymous.PostAsync("/v1/responses", EmptyInput());

        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        Assert.Equal("missing_api_key", (await ErrorOf(response)).GetProperty("code").GetString());
        var requestId = response.Headers.GetValues("x-request-id").Single();
        var line = Assert.Single(Gateway.Logs.GetSnapshot(), e => e.Id.Id == 1100 && e.GetStructuredStateValue("RequestId") == requestId);
        Assert.Equal("no key sent", line.GetStructuredStateValue("Reason"));
    }
}
