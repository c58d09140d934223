using System.Net;
using System.Net.Http.Headers;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using OmniGateway.Catalog;

namespace OmniGateway.IntegrationTests;

/// <summary>
/// The OpenAPI document as Swagger UI uses it: what it describes must be what the gateway accepts, and
/// its example must work as it stands with nothing but a tenant key.
/// </summary>
public sealed class OpenApiTests(OpenApiTests.Factory factory) : IClassFixture<OpenApiTests.Factory>
{
    private const string TenantKey = "og-openapi-tenant-key-4f1c9a7e2b8d4c06a1e3";
    private const string UpstreamKey = "sk-openapi-upstream-key-9d2e7b1a5c3f4e80b6d2";
    private const string DocumentPath = "/swagger/v1/swagger.json";

    /// <summary>The suite's gateway with a tenant of its own and a real-looking upstream key that must never surface; the simulator is forced so no call leaves the process.</summary>
    public sealed class Factory() : GatewayFactory(upstream: null, new Dictionary<string, string?>
    {
        ["Upstream:ApiKey"] = OpenApiTests.UpstreamKey, // qualified: GatewayFactory has keys of the same names
        ["Upstream:Mode"] = "Simulator",
    }, tenants: new Dictionary<string, string?>
    {
        ["Gateway:Tenants:0:Id"] = "openapi-tests",
        ["Gateway:Tenants:0:KeySha256:0"] = Sha256(OpenApiTests.TenantKey),
    });

    [Fact]
    public async Task SwaggerJson_IsAnonymous_AndDescribesResponsesRequestBody()
    {
        using var document = await GetDocumentAsync();
        var root = document.RootElement;

        var post = root.GetProperty("paths").GetProperty("/v1/responses").GetProperty("post");
        var body = post.GetProperty("requestBody");
        Assert.True(body.GetProperty("required").GetBoolean());
        var schema = Resolve(root, body.GetProperty("content").GetProperty("application/json").GetProperty("schema"));
        var required = schema.GetProperty("required").EnumerateArray().Select(e => e.GetString()).ToArray();
        Assert.Contains("model", required);
        Assert.Contains("input", required);

        var properties = schema.GetProperty("properties");
        foreach (var name in new[] { "model", "input", "stream", "modalities", "audio", "instructions" })
            Assert.True(properties.TryGetProperty(name, out _), $"request schema lacks '{name}'");

        // input: a string, or messages whose content is a string or typed parts.
        var input = properties.GetProperty("input").GetProperty("oneOf");
        Assert.Equal("string", input[0].GetProperty("type").GetString());
        var message = Resolve(root, input[1].GetProperty("items"));
        Assert.Equal(["user", "assistant", "system"], Strings(message.GetProperty("properties").GetProperty("role").GetProperty("enum")));
        var part = Resolve(root, message.GetProperty("properties").GetProperty("content").GetProperty("oneOf")[1].GetProperty("items"));
        var partTypes = Strings(part.GetProperty("properties").GetProperty("type").GetProperty("enum"));
        foreach (var type in new[] { "text", "input_text", "input_audio", "image_url", "input_image", "video_url" })
            Assert.Contains(type, partTypes);
    }

    [Fact]
    public async Task Example_PostedWithTenantKey_StreamsCompletedResponse()
    {
        using var document = await GetDocumentAsync();
        var example = document.RootElement.GetProperty("paths").GetProperty("/v1/responses").GetProperty("post")
            .GetProperty("requestBody").GetProperty("content").GetProperty("application/json").GetProperty("example");
        Assert.Equal(JsonValueKind.Object, example.ValueKind);
        Assert.True(example.GetProperty("stream").GetBoolean());

        using var client = factory.CreateClient();
        using var request = new HttpRequestMessage(HttpMethod.Post, "/v1/responses")
        {
            Content = new StringContent(example.GetRawText(), Encoding.UTF8, "application/json"),
        };
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", TenantKey);
        using var response = await client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);

        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.OK, $"{(int)response.StatusCode}: {text}");
        Assert.Equal("text/event-stream", response.Content.Headers.ContentType?.MediaType);
        Assert.Contains("event: response.completed", text, StringComparison.Ordinal);
    }

    [Fact]
    public async Task VoiceAndModelEnums_ListEveryServedName()
    {
        using var document = await GetDocumentAsync();
        var schemas = document.RootElement.GetProperty("components").GetProperty("schemas");
        var catalog = factory.Services.GetRequiredService<ModelCatalog>();

        var voices = Strings(schemas.GetProperty("AudioOutputDocument").GetProperty("properties").GetProperty("voice").GetProperty("enum"));
        Assert.Equal(55, voices.Length);
        Assert.Contains("Tina", voices);
        Assert.Contains("Serena", voices);
        Assert.Equal(catalog.Models.SelectMany(m => m.VoiceNames).Distinct(), voices);

        var models = Strings(schemas.GetProperty("ResponsesRequestDocument").GetProperty("properties").GetProperty("model").GetProperty("enum"));
        Assert.Equal(catalog.Models.Select(m => m.Id), models);
        Assert.Contains("qwen3.5-omni-plus-all", models);
    }

    [Fact]
    public async Task ErrorSchema_HasContractShape_OnEveryErrorStatus()
    {
        using var document = await GetDocumentAsync();
        var root = document.RootElement;
        var responses = root.GetProperty("paths").GetProperty("/v1/responses").GetProperty("post").GetProperty("responses");

        foreach (var status in new[] { "400", "401", "413", "429", "502", "504" })
        {
            var error = Resolve(root, responses.GetProperty(status).GetProperty("content").GetProperty("application/json").GetProperty("schema"));
            var body = Resolve(root, error.GetProperty("properties").GetProperty("error"));
            var fields = body.GetProperty("properties");
            foreach (var name in new[] { "message", "type", "param", "code" })
                Assert.True(fields.TryGetProperty(name, out _), $"{status}: error object lacks '{name}'");
        }
    }

    [Fact]
    public async Task Responses200_OffersSseAndJson()
    {
        using var document = await GetDocumentAsync();
        var content = document.RootElement.GetProperty("paths").GetProperty("/v1/responses").GetProperty("post")
            .GetProperty("responses").GetProperty("200").GetProperty("content");
        Assert.True(content.TryGetProperty("text/event-stream", out _));
        Assert.True(content.TryGetProperty("application/json", out _));
    }

    [Fact]
    public async Task BearerScheme_IsRequiredByV1Endpoints_NotByAnonymousOnes()
    {
        using var document = await GetDocumentAsync();
        var root = document.RootElement;
        var scheme = root.GetProperty("components").GetProperty("securitySchemes").GetProperty("bearer");
        Assert.Equal("http", scheme.GetProperty("type").GetString());
        Assert.Equal("bearer", scheme.GetProperty("scheme").GetString(), ignoreCase: true);

        var paths = root.GetProperty("paths");
        Assert.True(RequiresBearer(paths.GetProperty("/v1/responses").GetProperty("post")));
        Assert.True(RequiresBearer(paths.GetProperty("/v1/models").GetProperty("get")));
        Assert.False(RequiresBearer(paths.GetProperty("/healthz").GetProperty("get")));
    }

    [Fact]
    public async Task Document_NeverContainsConfiguredKeys()
    {
        using var client = factory.CreateClient();
        var text = await client.GetStringAsync(DocumentPath);
        Assert.DoesNotContain(TenantKey, text, StringComparison.Ordinal);
        Assert.DoesNotContain(UpstreamKey, text, StringComparison.Ordinal);
        Assert.DoesNotContain(Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(TenantKey))), text, StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public async Task SwaggerUi_IsAnonymous_AndServesHtml()
    {
        using var client = factory.CreateClient();
        using var response = await client.GetAsync("/swagger");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("text/html", response.Content.Headers.ContentType?.MediaType);
        Assert.Contains("swagger-ui", await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }

    private async Task<JsonDocument> GetDocumentAsync()
    {
        using var client = factory.CreateClient(); // no key: the document must be anonymous
        using var response = await client.GetAsync(DocumentPath);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return JsonDocument.Parse(await response.Content.ReadAsStringAsync());
    }

    /// <summary>Follows <c>$ref</c> and the single-entry <c>allOf</c> Swashbuckle wraps references in.</summary>
    private static JsonElement Resolve(JsonElement root, JsonElement schema)
    {
        while (true)
        {
            if (schema.TryGetProperty("$ref", out var reference))
            {
                schema = root.GetProperty("components").GetProperty("schemas").GetProperty(reference.GetString()!["#/components/schemas/".Length..]);
            }
            else if (schema.TryGetProperty("allOf", out var allOf) && allOf.GetArrayLength() == 1)
            {
                schema = allOf[0];
            }
            else
            {
                return schema;
            }
        }
    }

    private static bool RequiresBearer(JsonElement operation) =>
        operation.TryGetProperty("security", out var security)
        && security.EnumerateArray().Any(requirement => requirement.TryGetProperty("bearer", out _));

    private static string[] Strings(JsonElement array) => array.EnumerateArray().Select(e => e.GetString()!).ToArray();
}
