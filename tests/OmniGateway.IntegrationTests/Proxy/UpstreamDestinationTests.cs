using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.Diagnostics.Metrics.Testing;
using OmniGateway.Usage.Storage;
using OmniGateway.IntegrationTests.Usage;

namespace OmniGateway.IntegrationTests.Proxy;

/// <summary>
/// Several destinations (issue 10, item 3), each a key on a real loopback upstream that tells them apart
/// by <c>Authorization</c>: spread by weight, a refused key or a failing endpoint taken out before the
/// client sees a byte, and every key kept out of errors, readiness and metrics.
/// </summary>
public sealed class UpstreamDestinationTests : IAsyncLifetime
{
    // Not key-shaped (no sk- prefix, short runs): only the gateway's list of its keys can scrub these.
    private const string KeyA = "dest.key.alpha.0";
    private const string KeyB = "dest.key.beta.1";

    private FakeUpstream _upstream = null!; // created in InitializeAsync

    public async Task InitializeAsync() => _upstream = await FakeUpstream.StartAsync();

    public async Task DisposeAsync() => await _upstream.DisposeAsync();

    private static GatewayFactory Gateway(IEnumerable<(string BaseUrl, string Key, int Weight)> destinations, params (string Key, string Value)[] settings)
    {
        var all = new Dictionary<string, string?> { ["Upstream:RetryBaseDelay"] = "00:00:00.020" };
        foreach (var (d, i) in destinations.Select((d, i) => (d, i)))
        {
            all[$"Upstream:Destinations:{i}:BaseUrl"] = d.BaseUrl;
            all[$"Upstream:Destinations:{i}:ApiKey"] = d.Key;
            all[$"Upstream:Destinations:{i}:Weight"] = d.Weight.ToString(System.Globalization.CultureInfo.InvariantCulture);
        }
        foreach (var (key, value) in settings) all[key] = value;
        return new GatewayFactory(upstream: null, all); // no Upstream:BaseUrl/ApiKey: the destinations replace them
    }

    private string Url => _upstream.BaseUrl.ToString().TrimEnd('/');

    private static Task Answer(HttpContext context) => FakeUpstream.PlayAsync(context, Fixtures.Stream("text-only.sse"), TimeSpan.Zero);

    private int SentWith(string key) => _upstream.Requests.Count(r => r.Headers["Authorization"] == key);

    private static async Task<(HttpStatusCode Status, string Body)> PostAsync(HttpClient client, string? requestId = null)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, "/v1/responses")
        {
            Content = new StringContent(Fixtures.Request("text-only.json"), Encoding.UTF8, "application/json"),
        };
        if (requestId is not null) request.Headers.Add("x-request-id", requestId);
        using var response = await client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
        return (response.StatusCode, await response.Content.ReadAsStringAsync());
    }

    private static async Task<string> ScrapeAsync(HttpClient client, string until)
    {
        var text = "";
        for (var i = 0; i < 20 && !text.Contains(until, StringComparison.Ordinal); i++)
        {
            if (i > 0) await Task.Delay(250); // the exporter caches a scrape briefly
            text = await client.GetStringAsync("/metrics");
        }
        return text;
    }

    [Fact]
    public async Task ADestinationWhoseKeyIsRefused_IsSkipped_AndCallsGoToTheHealthyOne()
    {
        await using var gateway = Gateway([(Url, KeyA, 1), (Url, KeyB, 1)]);
        using var client = gateway.CreateTenantClient();
        _upstream.Respond = c => c.Request.Headers.Authorization == KeyA
            ? FakeUpstream.ErrorAsync(c, 401, """{"error":{"message":"invalid api key"}}""")
            : Answer(c);

        for (var i = 0; i < 6; i++)
        {
            var (status, body) = await PostAsync(client, $"refused-{i}");
            Assert.Equal(HttpStatusCode.OK, status);
            Assert.Contains("event: response.completed", body, StringComparison.Ordinal);
        }

        Assert.InRange(SentWith(KeyA), 1, 2); // at most a few tries, then out for Upstream:DestinationBackoff
        Assert.Equal(6, SentWith(KeyB));
        var records = (await LedgerRecords.Of(gateway.Services).ReadRecordsAsync(null, CancellationToken.None)).Select(r => r.Record).ToList();
        Assert.Equal(2, records.Single(r => r.RequestId == "refused-0").UpstreamAttempts);
        Assert.All(records.Where(r => r.RequestId != "refused-0"), r => Assert.Equal(1, r.UpstreamAttempts));

        // Readiness and metrics show the state by index, never a key.
        using var ready = await client.GetAsync("/readyz");
        var readiness = await ready.Content.ReadAsStringAsync();
        using var document = JsonDocument.Parse(readiness);
        var upstream = document.RootElement.GetProperty("checks").GetProperty("upstream");
        Assert.Equal("degraded", upstream.GetProperty("status").GetString());
        Assert.Contains("destination 0: out for", upstream.GetProperty("description").GetString(), StringComparison.Ordinal);
        Assert.Contains("HTTP 401", upstream.GetProperty("description").GetString(), StringComparison.Ordinal);
        Assert.Contains("destination 1: healthy", upstream.GetProperty("description").GetString(), StringComparison.Ordinal);
        var metrics = await ScrapeAsync(client, "omnigateway_upstream_retries_total");
        // Every test host in this process exports the same meter name, and the exporter merges same-named gauges: another
        // host's healthy destination 0 could read 1 here (it failed CI once). So /metrics is asked only whether the series
        // are exported, and their values are read from this gateway's own meter.
        Assert.Matches("""omnigateway_upstream_destination_up\{[^}]*destination="[01]"[^}]*\} [01]\n""", metrics);
        using (var up = new MetricCollector<int>(gateway.Services.GetRequiredService<System.Diagnostics.Metrics.IMeterFactory>(),
            "OmniGateway", "omnigateway.upstream.destination.up"))
        {
            up.RecordObservableInstruments();
            var inRotation = up.GetMeasurementSnapshot().ToDictionary(m => (string)m.Tags["destination"]!, m => m.Value);
            Assert.Equal(new Dictionary<string, int> { ["0"] = 0, ["1"] = 1 }, inRotation);
        }
        Assert.Contains("reason=\"key_refused\"", metrics, StringComparison.Ordinal);
        Assert.Contains("omnigateway_upstream_destination_ejections_total", metrics, StringComparison.Ordinal);
        foreach (var text in new[] { readiness, metrics, gateway.Logs.AllText() })
        {
            Assert.DoesNotContain(KeyA, text, StringComparison.Ordinal);
            Assert.DoesNotContain(KeyB, text, StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task ADestinationAnswering503Repeatedly_IsTakenOut_BeforeItsCallsSeeAByte()
    {
        await using var gateway = Gateway([(Url, KeyA, 1), (Url, KeyB, 1)], ("Upstream:FailuresBeforeBackoff", "2"));
        using var client = gateway.CreateTenantClient();
        _upstream.Respond = c => c.Request.Headers.Authorization == KeyA
            ? FakeUpstream.ErrorAsync(c, 503, """{"error":{"message":"overloaded"}}""")
            : Answer(c);

        for (var i = 0; i < 6; i++) Assert.Equal(HttpStatusCode.OK, (await PostAsync(client)).Status);

        Assert.Equal(2, SentWith(KeyA)); // two 503s in a row, then out
        Assert.Equal(6, SentWith(KeyB));
        Assert.Contains(gateway.Logs.GetSnapshot(), e => e.Id.Id == 5110 && e.GetStructuredStateValue("Destination") == "0");
    }

    [Fact]
    public async Task CallsAreSpreadByWeight_AndAKeyMayComeFromAMountedFile()
    {
        var keyFile = Path.GetTempFileName();
        await File.WriteAllTextAsync(keyFile, KeyB + "\n"); // as a mounted secret often ends
        try
        {
            await using var gateway = Gateway([(Url, KeyA, 3), (Url, KeyB, 1)],
                ("Upstream:Destinations:1:ApiKey", ""), ("Upstream:Destinations:1:ApiKeyFile", keyFile));
            using var client = gateway.CreateTenantClient();
            _upstream.Respond = Answer;

            for (var i = 0; i < 12; i++) Assert.Equal(HttpStatusCode.OK, (await PostAsync(client)).Status);

            Assert.InRange(SentWith(KeyA), 8, 10); // 3:1 of 12 is 9:3
            Assert.Equal(12, SentWith(KeyA) + SentWith(KeyB));
        }
        finally
        {
            File.Delete(keyFile);
        }
    }

    [Fact]
    public async Task AnUnreachableDestination_IsRetriedOnAnotherOne()
    {
        using var closed = new TcpListener(IPAddress.Loopback, 0);
        closed.Start();
        var deadPort = ((IPEndPoint)closed.LocalEndpoint).Port;
        closed.Stop(); // nothing listens there now: connecting is refused at once
        await using var gateway = Gateway([($"http://127.0.0.1:{deadPort}", KeyA, 1), (Url, KeyB, 1)]);
        using var client = gateway.CreateTenantClient();
        _upstream.Respond = Answer;

        var (status, body) = await PostAsync(client, "unreachable");

        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Contains("event: response.completed", body, StringComparison.Ordinal);
        var record = (await LedgerRecords.Of(gateway.Services).ReadRecordsAsync(null, CancellationToken.None)).Single().Record;
        Assert.Equal(2, record.UpstreamAttempts);
        Assert.Contains(gateway.Logs.GetSnapshot(), e => e.Id.Id == 5100 && e.GetStructuredStateValue("Reason")!.StartsWith("connection failure", StringComparison.Ordinal));
    }

    [Fact]
    public async Task AnUpstreamErrorEchoingAnyDestinationsKey_IsScrubbedOfEveryKey()
    {
        await using var gateway = Gateway([(Url, KeyA, 1), (Url, KeyB, 1)]);
        using var client = gateway.CreateTenantClient();
        _upstream.Respond = c => FakeUpstream.ErrorAsync(c, 400, $$$"""{"error":{"message":"bad request; keys on file: {{{KeyA}}} and {{{KeyB}}}"}}""");

        var (status, body) = await PostAsync(client);

        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.DoesNotContain(KeyA, body, StringComparison.Ordinal);
        Assert.DoesNotContain(KeyB, body, StringComparison.Ordinal);
        Assert.Contains("[redacted]", body, StringComparison.Ordinal);
    }
}
