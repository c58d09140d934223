using System.Net;
using System.Text.RegularExpressions;

namespace OmniGateway.IntegrationTests.Playground;

/// <summary>GET /playground: the page and its two files come out of the assembly, with a strict CSP and nothing from elsewhere.</summary>
public sealed partial class PlaygroundPageTests() : GatewayTest(withUpstream: false)
{
    [Fact]
    public async Task Page_IsServedAnonymously_WithAStrictContentSecurityPolicy_AndLabelsForEveryControl()
    {
        using var response = await Anonymous.GetAsync("/playground");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("text/html", response.Content.Headers.ContentType?.MediaType);
        var csp = string.Join(";", response.Headers.GetValues("Content-Security-Policy"));
        Assert.Contains("default-src 'none'", csp, StringComparison.Ordinal);
        Assert.Contains("script-src 'self'", csp, StringComparison.Ordinal);
        Assert.Contains("connect-src 'self'", csp, StringComparison.Ordinal);
        Assert.DoesNotContain("unsafe-inline", csp, StringComparison.Ordinal);
        Assert.Equal("nosniff", response.Headers.GetValues("X-Content-Type-Options").Single());

        var html = await response.Content.ReadAsStringAsync();
        // Every input, select and textarea with an id has a <label for> (radio buttons are wrapped in theirs).
        var ids = ControlId().Matches(html).Select(m => m.Groups[1].Value).ToList();
        Assert.Contains("key", ids);
        Assert.Contains("voice", ids);
        Assert.Contains("prompt", ids);
        Assert.Contains("audio-file", ids);
        foreach (var id in ids) Assert.Contains($"<label for=\"{id}\"", html, StringComparison.Ordinal);
        foreach (var label in new[] { "Tenant key", "Model", "Voice", "Prompt", "Send" }) Assert.Contains($">{label}<", html, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("/playground", "text/html")]
    [InlineData("/playground/playground.js", "text/javascript")]
    [InlineData("/playground/playground.css", "text/css")]
    public async Task NothingIsLoadedFromTheInternet(string path, string contentType)
    {
        using var response = await Anonymous.GetAsync(path);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(contentType, response.Content.Headers.ContentType?.MediaType);
        var text = await response.Content.ReadAsStringAsync();
        // The only absolute URL is the SVG namespace, which is a name, not a fetch.
        Assert.Equal([], AbsoluteUrl().Matches(text).Select(m => m.Value).Where(url => url != "http://www.w3.org/2000/svg").ToArray());
    }

    [Fact]
    public async Task Files_AreRevalidatedByETag_AndAnUnknownFileIsTheErrorShape()
    {
        using var first = await Anonymous.GetAsync("/playground/playground.js");
        var tag = first.Headers.ETag!;
        using var request = new HttpRequestMessage(HttpMethod.Get, "/playground/playground.js");
        request.Headers.IfNoneMatch.Add(tag);
        using var again = await Anonymous.SendAsync(request);
        Assert.Equal(HttpStatusCode.NotModified, again.StatusCode);

        using var missing = await Anonymous.GetAsync("/playground/secrets.json");
        Assert.Equal(HttpStatusCode.NotFound, missing.StatusCode);
        Assert.Equal("not_found", (await ErrorOf(missing)).GetProperty("code").GetString());
    }

    [GeneratedRegex("<(?:input|select|textarea)[^>]*\\bid=\"([^\"]+)\"")]
    private static partial Regex ControlId();

    [GeneratedRegex("(?:https?:)?//[A-Za-z0-9.-]+\\.[A-Za-z]{2,}[^\\s\"'`)]*")]
    private static partial Regex AbsoluteUrl();
}
