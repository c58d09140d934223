using System.Net;
using System.Net.Http.Headers;

namespace OmniGateway.IntegrationTests.Hardening;

/// <summary>Issue 9.6: failed keys are throttled per address before any lookup, logged once each, never with the key.</summary>
public sealed class AuthFailureTests : GatewayTest
{
    private const string WrongKey = "og-wrong-key-dddddddddddddddddddddddddddddddddd";

    protected override IDictionary<string, string?>? Settings => new Dictionary<string, string?> { ["Gateway:MaxAuthFailuresPerMinute"] = "3" };

    [Fact]
    public async Task FailedKeys_AreThrottledPerAddress_LoggedOnceEach_AndAnonymousPathsIgnoreKeys()
    {
        using var wrong = Gateway.CreateTenantClient(WrongKey);

        // Anonymous paths neither look the key up nor count it as a failure.
        for (var i = 0; i < 10; i++)
        {
            using var health = await wrong.GetAsync("/healthz");
            Assert.Equal(HttpStatusCode.OK, health.StatusCode);
        }

        var requestIds = new List<string>();
        for (var i = 0; i < 3; i++)
        {
            using var refused = await wrong.GetAsync("/v1/models");
            Assert.Equal(HttpStatusCode.Unauthorized, refused.StatusCode);
            requestIds.Add(refused.Headers.GetValues("x-request-id").Single());
        }
        using (var throttled = await wrong.GetAsync("/v1/models"))
        {
            Assert.Equal(HttpStatusCode.TooManyRequests, throttled.StatusCode);
            Assert.True(throttled.Headers.RetryAfter?.Delta > TimeSpan.Zero);
            Assert.Equal("too_many_failed_keys", (await ErrorOf(throttled)).GetProperty("code").GetString());
        }
        // A configured tenant behind the same address is not locked out by the guesser.
        using (var valid = await Client.GetAsync("/v1/models"))
            Assert.Equal(HttpStatusCode.OK, valid.StatusCode);

        var refusals = Gateway.Logs.GetSnapshot().Where(e => e.Id.Id == 1100 && e.GetStructuredStateValue("Code") == "invalid_api_key").ToList();
        Assert.Equal(requestIds.Order(), refusals.Select(e => e.GetStructuredStateValue("RequestId")!).Order());
        Assert.All(refusals, e => Assert.Contains("key", e.GetStructuredStateValue("Reason"), StringComparison.Ordinal));
        Assert.Single(Gateway.Logs.GetSnapshot(), e => e.Id.Id == 1100 && e.GetStructuredStateValue("Code") == "too_many_failed_keys");
        Assert.DoesNotContain("dddddddddddd", Gateway.Logs.AllText(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task AKeyThatJustFailed_FailsAgainWithoutALookup_ButStillAs401()
    {
        using var wrong = new HttpClient { BaseAddress = Client.BaseAddress };
        wrong.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", WrongKey);
        using (var first = await wrong.GetAsync("/v1/models")) Assert.Equal(HttpStatusCode.Unauthorized, first.StatusCode);
        using (var second = await wrong.GetAsync("/v1/models")) Assert.Equal(HttpStatusCode.Unauthorized, second.StatusCode);
        Assert.Contains(Gateway.Logs.GetSnapshot(), e => e.Id.Id == 1100 && (e.GetStructuredStateValue("Reason") ?? "").Contains("not looked up again", StringComparison.Ordinal));
    }
}
