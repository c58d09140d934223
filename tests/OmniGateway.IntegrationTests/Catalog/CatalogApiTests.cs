using System.Net;
using System.Text.Json;

namespace OmniGateway.IntegrationTests.Catalog;

public sealed class CatalogApiTests() : GatewayTest(withUpstream: false)
{
    // Configuration overrides the shipped catalogue key by key.
    protected override IDictionary<string, string?> Settings => new Dictionary<string, string?>
    {
        ["Models:qwen3.5-omni-plus-all:owned_by"] = "dmxapi",
    };

    [Fact]
    public async Task Models_ListsTheServedModelInOpenAiShape()
    {
        using var document = JsonDocument.Parse(await Client.GetStringAsync("/v1/models"));

        Assert.Equal("list", document.RootElement.GetProperty("object").GetString());
        var model = Assert.Single(document.RootElement.GetProperty("data").EnumerateArray());
        Assert.Equal("qwen3.5-omni-plus-all", model.GetProperty("id").GetString());
        Assert.Equal("model", model.GetProperty("object").GetString());
        Assert.Equal("dmxapi", model.GetProperty("owned_by").GetString());
    }

    [Fact]
    public async Task Voices_ListsAll55WithVerifiedFlags()
    {
        using var document = JsonDocument.Parse(await Client.GetStringAsync("/v1/voices?model=qwen3.5-omni-plus-all"));

        var voices = document.RootElement.GetProperty("data").EnumerateArray().ToArray();
        Assert.Equal(55, voices.Length);
        var tina = voices.Single(v => v.GetProperty("name").GetString() == "Tina");
        Assert.True(tina.GetProperty("verified").GetBoolean());
        Assert.Equal("qwen3.5-omni-plus-all", tina.GetProperty("model").GetString());
        Assert.Contains("en", tina.GetProperty("languages").EnumerateArray().Select(l => l.GetString()));
        Assert.False(voices.Single(v => v.GetProperty("name").GetString() == "Cindy").GetProperty("verified").GetBoolean());
    }

    [Theory]
    [InlineData("/v1/voices?model=gpt-4o", "model_not_found")] // voices of an unknown model
    [InlineData("/v1/nothing-here", "not_found")]               // an unknown route
    public async Task UnknownModelOrRoute_Is404InTheErrorShape(string path, string code)
    {
        using var response = await Client.GetAsync(path);

        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        using var document = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        Assert.Equal(code, document.RootElement.GetProperty("error").GetProperty("code").GetString());
    }
}
