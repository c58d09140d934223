using System.Net;
using System.Text.Json;

namespace OmniGateway.IntegrationTests.Auth;

public sealed class TenantKeyTests() : GatewayTest(withUpstream: false)
{

    /// <summary>The contract's three ways to send a key (Bearer in either case, bare, x-api-key): header and value.</summary>
    public static TheoryData<string, string> ContractHeaderForms => new()
    {
        { "Authorization", "Bearer " + GatewayFactory.TenantKey },
        { "Authorization", "bearer " + GatewayFactory.TenantKey },
        { "Authorization", GatewayFactory.TenantKey },
        { "x-api-key", GatewayFactory.TenantKey },
    };

    [Theory]
    [MemberData(nameof(ContractHeaderForms))]
    public async Task EveryContractHeaderForm_Authenticates(string header, string value)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, "/v1/models");
        request.Headers.TryAddWithoutValidation(header, value);

        using var response = await Anonymous.SendAsync(request);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }

    [Theory]
    [InlineData(null, "missing_api_key")]
    [InlineData("Bearer og-not-a-key", "invalid_api_key")]
    [InlineData("Bearer ", "missing_api_key")]
    public async Task MissingOrWrongKey_Returns401InTheErrorShape(string? authorization, string code)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, "/v1/responses") { Content = new StringContent("{}", System.Text.Encoding.UTF8, "application/json") };
        if (authorization is not null) request.Headers.TryAddWithoutValidation("Authorization", authorization);

        using var response = await Anonymous.SendAsync(request);
        var body = await response.Content.ReadAsStringAsync();

        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        using var document = JsonDocument.Parse(body);
        var error = document.RootElement.GetProperty("error");
        Assert.Equal(code, error.GetProperty("code").GetString());
        Assert.Equal("authentication_error", error.GetProperty("type").GetString());
        Assert.DoesNotContain("og-not-a-key", body);
        Assert.True(response.Headers.Contains("x-request-id"));
    }

    [Fact]
    public async Task CallersSaneRequestId_IsEchoed_AndAnInsaneOneReplaced()
    {
        using var sane = new HttpRequestMessage(HttpMethod.Get, "/healthz");
        sane.Headers.Add("x-request-id", "trace-123.abc");
        using var insane = new HttpRequestMessage(HttpMethod.Get, "/healthz");
        insane.Headers.TryAddWithoutValidation("x-request-id", "<script>" + new string('x', 300));

        using var saneResponse = await Anonymous.SendAsync(sane);
        using var insaneResponse = await Anonymous.SendAsync(insane);

        Assert.Equal("trace-123.abc", saneResponse.Headers.GetValues("x-request-id").Single());
        Assert.StartsWith("req_", insaneResponse.Headers.GetValues("x-request-id").Single());
    }

    [Fact]
    public async Task TenantWithoutTheModel_IsRefusedBeforeTheUpstream()
    {
        using var client = Gateway.CreateTenantClient(GatewayFactory.RestrictedKey);

        using var response = await client.PostAsync("/v1/responses",
            new StringContent("""{"model":"qwen3.5-omni-plus-all","input":"hi"}""", System.Text.Encoding.UTF8, "application/json"));

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        using var document = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        Assert.Equal("model_not_allowed", document.RootElement.GetProperty("error").GetProperty("code").GetString());
        Assert.Equal("model", document.RootElement.GetProperty("error").GetProperty("param").GetString());
    }
}
