using System.Net;
using System.Text;

namespace OmniGateway.IntegrationTests.Hardening;

/// <summary>Issue 9.2 against the real gateway: a case twin of a member or background:true never reaches the upstream.</summary>
public sealed class ExactMemberNamesTests : GatewayTest
{
    [Theory]
    [InlineData("""{"model":"qwen3.5-omni-plus-all","Model":"some-other-model","input":"Hi"}""", "invalid_json", "Model")]
    [InlineData("""{"model":"qwen3.5-omni-plus-all","input":[{"role":"user","content":[{"type":"text","text":"a","Type":"input_audio"}]}]}""", "invalid_json", "input[0].content[0].Type")]
    [InlineData("""{"model":"qwen3.5-omni-plus-all","input":"Hi","background":true}""", "background_not_supported", "background")]
    public async Task CaseTwinOrBackground_Is400_AndNothingReachesTheUpstream(string body, string code, string param)
    {
        using var response = await Client.PostAsync("/v1/responses", new StringContent(body, Encoding.UTF8, "application/json"));

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        var error = await ErrorOf(response);
        Assert.Equal(code, error.GetProperty("code").GetString());
        Assert.Equal(param, error.GetProperty("param").GetString());
        Assert.Empty(Upstream.Requests);
    }
}
