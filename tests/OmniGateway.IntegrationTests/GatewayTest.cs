using System.Text;
using System.Text.Json;

namespace OmniGateway.IntegrationTests;

/// <summary>
/// One gateway per test (xunit creates the class anew for each), on a real Kestrel port, in front of
/// a fresh <see cref="FakeUpstream"/> — or of the built-in simulator when <paramref name="withUpstream"/> is false.
/// </summary>
public abstract class GatewayTest(bool withUpstream = true) : IAsyncLifetime
{
    protected FakeUpstream Upstream { get; private set; } = null!; // set in InitializeAsync when withUpstream
    protected GatewayFactory Gateway { get; private set; } = null!;
    protected HttpClient Client { get; private set; } = null!;

    /// <summary>A client that sends no key unless the test adds one.</summary>
    protected HttpClient Anonymous { get; private set; } = null!;

    /// <summary>Configuration on top of the factory's defaults.</summary>
    protected virtual IDictionary<string, string?>? Settings => null;

    public async Task InitializeAsync()
    {
        if (withUpstream) Upstream = await FakeUpstream.StartAsync();
        Gateway = new GatewayFactory(withUpstream ? Upstream.BaseUrl : null, Settings);
        Client = Gateway.CreateTenantClient();
        Anonymous = Gateway.CreateClient();
    }

    public async Task DisposeAsync()
    {
        Client.Dispose();
        Anonymous.Dispose();
        await Gateway.DisposeAsync();
        if (withUpstream) await Upstream.DisposeAsync();
    }

    protected static StringContent Json(string body) => new(body, Encoding.UTF8, "application/json");

    /// <summary>POST /v1/responses as the tenant, returning once the headers are in (the body streams).</summary>
    protected Task<HttpResponseMessage> PostAsync(string body) =>
        Client.SendAsync(new HttpRequestMessage(HttpMethod.Post, "/v1/responses") { Content = Json(body) }, HttpCompletionOption.ResponseHeadersRead);

    /// <summary>The <c>error</c> object of an answer, which must be JSON in the contract's shape.</summary>
    protected static async Task<JsonElement> ErrorOf(HttpResponseMessage response)
    {
        Assert.Equal("application/json", response.Content.Headers.ContentType?.MediaType);
        using var document = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        return document.RootElement.GetProperty("error").Clone();
    }
}
