using System.Net;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.Time.Testing;
using OmniGateway.IntegrationTests.Usage;

namespace OmniGateway.IntegrationTests.Playground;

/// <summary>
/// Browser callers over real HTTP: preflights answered for allowed origins only (globally, by a configured
/// tenant or by an API-created one), the real request held to its own tenant's list, and the headers a page
/// needs (x-request-id, Retry-After) exposed. The browser side of the same is in tests/browser.
/// </summary>
public sealed class CorsTests
{
    private const string Global = "https://app.example.com";
    private const string AlphaOrigin = "http://127.0.0.1:5173";
    private const string BetaOrigin = "https://beta.example.org";
    private const string StoredOrigin = "https://gamma.example.net";
    private static readonly string[] WebOnly = ["https://web.example.com"];

    private static Dictionary<string, string?> Origins(params (string Key, string Value)[] extra)
    {
        var settings = new Dictionary<string, string?>
        {
            ["Gateway:Cors:AllowedOrigins:0"] = Global,
            ["Gateway:Tenants:0:AllowedOrigins:0"] = AlphaOrigin,
            ["Gateway:Tenants:1:AllowedOrigins:0"] = "HTTPS://Beta.Example.org:443", // stored as browsers send it
        };
        foreach (var (key, value) in extra) settings[key] = value;
        return settings;
    }

    private static HttpRequestMessage Preflight(string origin, string method = "POST", string headers = "authorization,content-type")
    {
        var request = new HttpRequestMessage(HttpMethod.Options, "/v1/responses");
        request.Headers.Add("Origin", origin);
        request.Headers.Add("Access-Control-Request-Method", method);
        request.Headers.Add("Access-Control-Request-Headers", headers);
        return request;
    }

    private static HttpRequestMessage Post(string origin, string body)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, "/v1/responses") { Content = new StringContent(body, Encoding.UTF8, "application/json") };
        request.Headers.Add("Origin", origin);
        return request;
    }

    private static string? Header(HttpResponseMessage response, string name) =>
        response.Headers.TryGetValues(name, out var values) ? string.Join(",", values) : null;

    [Theory, EveryStore]
    public async Task Preflight_IsAnsweredForOriginsAllowedGloballyOrByAnyTenant_AndRefusedForOthers(string provider)
    {
        await using var store = await TestStore.CreateAsync(provider);
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        await using var gateway = new LedgerGateway(store, settings: Origins(), time: time);
        using var anonymous = gateway.Client(null);
        using var admin = gateway.Client(LedgerGateway.AdminKey);
        using (var created = await admin.PostAsJsonAsync("/admin/tenants", new { Id = "gamma", AllowedOrigins = new[] { StoredOrigin } }))
            Assert.Equal(HttpStatusCode.Created, created.StatusCode);

        foreach (var origin in new[] { Global, AlphaOrigin, BetaOrigin, StoredOrigin })
        {
            using var answer = await anonymous.SendAsync(Preflight(origin));
            Assert.Equal(HttpStatusCode.NoContent, answer.StatusCode);
            Assert.Equal(origin, Header(answer, "Access-Control-Allow-Origin"));
            Assert.Contains("POST", Header(answer, "Access-Control-Allow-Methods"), StringComparison.Ordinal);
            Assert.Contains("authorization", Header(answer, "Access-Control-Allow-Headers")!, StringComparison.OrdinalIgnoreCase);
            Assert.Equal("600", Header(answer, "Access-Control-Max-Age"));
            Assert.Null(Header(answer, "Access-Control-Allow-Credentials")); // keys travel in headers, never cookies
        }

        foreach (var origin in new[] { "https://evil.example", "http://127.0.0.1:5174", "null", "https://app.example.com.evil.example" })
        {
            using var refused = await anonymous.SendAsync(Preflight(origin));
            Assert.Equal(HttpStatusCode.Forbidden, refused.StatusCode);
            Assert.Null(Header(refused, "Access-Control-Allow-Origin"));
            using var error = JsonDocument.Parse(await refused.Content.ReadAsStringAsync());
            Assert.Equal("origin_not_allowed", error.RootElement.GetProperty("error").GetProperty("code").GetString());
        }

        // A tenant deleted through the API takes its origin with it (within the store re-read of a second).
        using (var deleted = await admin.DeleteAsync("/admin/tenants/gamma")) Assert.Equal(HttpStatusCode.NoContent, deleted.StatusCode);
        time.Advance(TimeSpan.FromSeconds(1.1));
        using (var gone = await anonymous.SendAsync(Preflight(StoredOrigin))) Assert.Equal(HttpStatusCode.Forbidden, gone.StatusCode);
    }

    [Fact]
    public async Task TheRealRequest_StreamsReadablyFromItsTenantsOrigin_AndIsRefusedUnbilledFromAnotherTenantsOrigin()
    {
        await using var store = await TestStore.CreateAsync("Sqlite");
        await using var gateway = new LedgerGateway(store, settings: Origins());
        using var alpha = gateway.Client(LedgerGateway.AlphaKey);

        foreach (var origin in new[] { AlphaOrigin, Global })
        {
            using var streamed = await alpha.SendAsync(Post(origin, StreamClient.Request("hello from a browser", audio: true)), HttpCompletionOption.ResponseHeadersRead);
            Assert.Equal(HttpStatusCode.OK, streamed.StatusCode);
            Assert.Equal(origin, Header(streamed, "Access-Control-Allow-Origin"));
            var exposed = Header(streamed, "Access-Control-Expose-Headers")!;
            Assert.Contains("x-request-id", exposed, StringComparison.OrdinalIgnoreCase);
            Assert.Contains("Retry-After", exposed, StringComparison.OrdinalIgnoreCase);
            Assert.Contains("Origin", Header(streamed, "Vary"), StringComparison.Ordinal);
            Assert.Contains("event: response.completed", await streamed.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        }

        // Beta's origin passes the preflight (beta allows it) but alpha's key may not be used from there.
        using var refused = await alpha.SendAsync(Post(BetaOrigin, StreamClient.Request("not from here")));
        Assert.Equal(HttpStatusCode.Forbidden, refused.StatusCode);
        Assert.Equal(BetaOrigin, Header(refused, "Access-Control-Allow-Origin")); // so the page can read why
        using (var error = JsonDocument.Parse(await refused.Content.ReadAsStringAsync()))
        {
            Assert.Equal("origin_not_allowed", error.RootElement.GetProperty("error").GetProperty("code").GetString());
            Assert.Contains("alpha", error.RootElement.GetProperty("error").GetProperty("message").GetString(), StringComparison.Ordinal);
        }
        using (var unknown = await alpha.SendAsync(Post("https://evil.example", StreamClient.Request("nor from here"))))
        {
            Assert.Equal(HttpStatusCode.Forbidden, unknown.StatusCode);
            Assert.Null(Header(unknown, "Access-Control-Allow-Origin"));
        }
        // The admin key is held to the global list only.
        using var admin = gateway.Client(LedgerGateway.AdminKey);
        using (var adminFromTenantOrigin = await admin.SendAsync(new HttpRequestMessage(HttpMethod.Get, "/admin/usage") { Headers = { { "Origin", AlphaOrigin } } }))
            Assert.Equal(HttpStatusCode.Forbidden, adminFromTenantOrigin.StatusCode);
        using (var adminFromGlobal = await admin.SendAsync(new HttpRequestMessage(HttpMethod.Get, "/admin/usage") { Headers = { { "Origin", Global } } }))
            Assert.Equal(HttpStatusCode.OK, adminFromGlobal.StatusCode);

        var records = await gateway.Store.ReadRecordsAsync(null, CancellationToken.None);
        Assert.Equal(2, records.Count); // the refused calls reached neither the upstream nor the ledger
    }

    [Fact]
    public async Task ErrorsAreReadableCrossOrigin_A429ExposesRetryAfter_AndABadKeyIsA401()
    {
        await using var store = await TestStore.CreateAsync("Sqlite");
        await using var gateway = new LedgerGateway(store, settings: Origins(("Gateway:Tenants:0:Limits:RequestsPerMinute", "1")));
        using var alpha = gateway.Client(LedgerGateway.AlphaKey);
        using (var first = await alpha.SendAsync(Post(AlphaOrigin, StreamClient.Request("one")))) Assert.Equal(HttpStatusCode.OK, first.StatusCode);
        using var limited = await alpha.SendAsync(Post(AlphaOrigin, StreamClient.Request("two")));
        Assert.Equal(HttpStatusCode.TooManyRequests, limited.StatusCode);
        Assert.Equal(AlphaOrigin, Header(limited, "Access-Control-Allow-Origin"));
        Assert.NotNull(limited.Headers.RetryAfter);
        Assert.Contains("Retry-After", Header(limited, "Access-Control-Expose-Headers"), StringComparison.OrdinalIgnoreCase);

        using var wrongKey = gateway.Client("og-not-a-key-of-this-gateway-000000000000000000");
        using var unauthorized = await wrongKey.SendAsync(Post(AlphaOrigin, StreamClient.Request("who am I")));
        Assert.Equal(HttpStatusCode.Unauthorized, unauthorized.StatusCode);
        Assert.Equal(AlphaOrigin, Header(unauthorized, "Access-Control-Allow-Origin"));
    }

    [Fact]
    public async Task NoOriginIsAllowedByDefault_AndRequestsWithoutOriginAreUntouched()
    {
        await using var gateway = new GatewayFactory(null);
        using var client = gateway.CreateTenantClient();
        using var preflight = await client.SendAsync(Preflight("http://localhost:3000"));
        Assert.Equal(HttpStatusCode.Forbidden, preflight.StatusCode);
        using var plain = await client.PostAsync("/v1/responses", new StringContent(StreamClient.Request("no origin"), Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.OK, plain.StatusCode);
        Assert.Null(Header(plain, "Access-Control-Allow-Origin"));
    }

    [Theory, EveryStore]
    public async Task AdminApi_StoresAllowedOrigins_Normalised_AndRefusesWhatIsNotAnOrigin(string provider)
    {
        await using var store = await TestStore.CreateAsync(provider);
        await using var gateway = new LedgerGateway(store, settings: Origins());
        using var admin = gateway.Client(LedgerGateway.AdminKey);

        using (var created = await admin.PostAsJsonAsync("/admin/tenants", new { Id = "web", AllowedOrigins = (string[])["HTTPS://Web.Example.com:443", "http://localhost:8081"] }))
        {
            Assert.Equal(HttpStatusCode.Created, created.StatusCode);
            Assert.Equal(["https://web.example.com", "http://localhost:8081"], Origins(await created.Content.ReadAsStringAsync()));
        }
        using (var patched = await admin.PatchAsJsonAsync("/admin/tenants/web", new { AllowedOrigins = WebOnly }))
            Assert.Equal(HttpStatusCode.OK, patched.StatusCode);
        using (var limitsOnly = await admin.PatchAsJsonAsync("/admin/tenants/web", new { Limits = new { DailyTokens = 1000 } }))
            Assert.Equal(["https://web.example.com"], Origins(await limitsOnly.Content.ReadAsStringAsync())); // absent: unchanged
        Assert.Equal(["https://web.example.com"], Origins(await admin.GetStringAsync("/admin/tenants/web")));
        Assert.Equal([AlphaOrigin], Origins(await admin.GetStringAsync("/admin/tenants/alpha"))); // a configured tenant's, shown too

        foreach (var (bad, param) in new[] { ("*", "AllowedOrigins[1]"), ("https://web.example.com/app", "AllowedOrigins[1]"), ("ftp://files.example.com", "AllowedOrigins[1]"), ("https://web.example.com/", "AllowedOrigins[1]") })
        {
            using var refused = await admin.PatchAsJsonAsync("/admin/tenants/web", new { AllowedOrigins = (string[])["https://ok.example.com", bad] });
            Assert.Equal(HttpStatusCode.BadRequest, refused.StatusCode);
            using var error = JsonDocument.Parse(await refused.Content.ReadAsStringAsync());
            Assert.Equal(param, error.RootElement.GetProperty("error").GetProperty("param").GetString());
        }
        using (var notArray = await admin.PatchAsJsonAsync("/admin/tenants/web", new { AllowedOrigins = "https://web.example.com" }))
            Assert.Equal(HttpStatusCode.BadRequest, notArray.StatusCode);
        Assert.Equal(["https://web.example.com"], Origins(await admin.GetStringAsync("/admin/tenants/web")));
    }

    [Theory]
    [InlineData("Gateway:Cors:AllowedOrigins:0", "https://app.example.com/path")]
    [InlineData("Gateway:Tenants:0:AllowedOrigins:0", "*")]
    public void AnInvalidConfiguredOrigin_StopsStartUp_NamingTheKey(string key, string value)
    {
        using var gateway = new GatewayFactory(null, new Dictionary<string, string?> { [key] = value });
        var failure = Assert.ThrowsAny<Exception>(() => gateway.CreateTenantClient());
        Assert.Contains(key, failure.ToString(), StringComparison.Ordinal);
    }

    private static string[] Origins(string tenantJson)
    {
        using var document = JsonDocument.Parse(tenantJson);
        return document.RootElement.GetProperty("AllowedOrigins").EnumerateArray().Select(e => e.GetString()!).ToArray();
    }
}
