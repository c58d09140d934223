using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using System.Text;
using Microsoft.Data.Sqlite;
using Xunit.Abstractions;

namespace OmniGateway.IntegrationTests.Usage;

/// <summary>
/// A deploy must not cut answers: SIGTERM to a real gateway process stops it taking new work at once,
/// lets the open stream run on (here 40 s, past the host's default 30 s), records it and exits; with a
/// short <c>Gateway:ShutdownTimeout</c> what is still open ends in-band with <c>gateway_shutting_down</c>.
/// </summary>
[Trait("Category", "Slow")]
public sealed class GracefulShutdownTests(ITestOutputHelper output) : IAsyncLifetime
{
    private FakeUpstream _upstream = null!; // created in InitializeAsync
    private readonly string _folder = Path.Combine(Path.GetTempPath(), "og-shutdown-" + Guid.NewGuid().ToString("N"));

    public async Task InitializeAsync()
    {
        Directory.CreateDirectory(_folder);
        _upstream = await FakeUpstream.StartAsync();
    }

    public async Task DisposeAsync()
    {
        await _upstream.DisposeAsync();
        SqliteConnection.ClearAllPools();
        try { Directory.Delete(_folder, recursive: true); } catch (IOException) { }
    }

    private string Database => Path.Combine(_folder, "data", "omnigateway.db");

    private Task<ChildProcess> StartGatewayAsync(string? shutdownTimeout = null)
    {
        var settings = new Dictionary<string, string?>
        {
            ["Upstream:BaseUrl"] = _upstream.BaseUrl.ToString().TrimEnd('/'),
            ["Upstream:ApiKey"] = "sk-shutdown-test-upstream-key",
            ["Usage:ConnectionString"] = $"Data Source={Database}",
            ["Gateway:Tenants:0:Id"] = "alpha",
            ["Gateway:Tenants:0:KeySha256:0"] = LedgerGateway.Sha256(LedgerGateway.AlphaKey),
            ["Serilog:MinimumLevel:Default"] = "Warning",
        };
        if (shutdownTimeout is not null) settings["Gateway:ShutdownTimeout"] = shutdownTimeout;
        return GatewayProcess.StartAsync(settings, _folder);
    }

    /// <summary>The sample answer spread over <paramref name="length"/>: one event every length/31.</summary>
    private void UpstreamTakes(TimeSpan length)
    {
        var events = Fixtures.SplitEvents(Fixtures.Stream("text-audio.sse")).Count;
        _upstream.Respond = c => FakeUpstream.PlayAsync(c, Fixtures.Stream("text-audio.sse"), length / events);
    }

    private static async Task<(string Body, TimeSpan Took)> StreamAcrossSigtermAsync(ChildProcess gateway, string requestId, TimeSpan sigtermAfter)
    {
        using var client = new HttpClient { BaseAddress = gateway.BaseUrl, Timeout = TimeSpan.FromMinutes(2) };
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", LedgerGateway.AlphaKey);
        using var request = new HttpRequestMessage(HttpMethod.Post, "/v1/responses")
        {
            Content = new StringContent(Fixtures.Request("text-audio.json"), Encoding.UTF8, "application/json"),
        };
        request.Headers.Add("x-request-id", requestId);
        var clock = Stopwatch.StartNew();
        using var response = await client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var reading = response.Content.ReadAsStringAsync();

        await Task.Delay(sigtermAfter);
        gateway.Terminate();
        await AssertNotTakingNewWorkAsync(gateway);

        var body = await reading;
        return (body, clock.Elapsed);
    }

    /// <summary>At once after SIGTERM: readiness is not 200 (503, or the listener is already closed) and no new call gets in.</summary>
    private static async Task AssertNotTakingNewWorkAsync(ChildProcess gateway)
    {
        using var probe = new HttpClient { BaseAddress = gateway.BaseUrl, Timeout = TimeSpan.FromSeconds(5) };
        for (var attempt = 0; ; attempt++)
        {
            try
            {
                using var ready = await probe.GetAsync("/readyz");
                if (ready.StatusCode == HttpStatusCode.ServiceUnavailable) return;
                Assert.True(attempt < 20, $"/readyz still answers {ready.StatusCode} 2 s after SIGTERM");
            }
            catch (HttpRequestException)
            {
                return; // the listener is closed: no new connection is taken
            }
            await Task.Delay(100);
        }
    }

    private (string Outcome, long? TotalTokens) Record(string requestId)
    {
        using var connection = new SqliteConnection($"Data Source={Database};Mode=ReadOnly;Pooling=False");
        connection.Open();
        using var command = connection.CreateCommand();
        command.CommandText = "SELECT outcome, total_tokens FROM usage_records WHERE request_id = @id";
        command.Parameters.AddWithValue("@id", requestId);
        using var reader = command.ExecuteReader();
        Assert.True(reader.Read(), $"no record of {requestId}");
        var record = (reader.GetString(0), reader.IsDBNull(1) ? (long?)null : reader.GetInt64(1));
        Assert.False(reader.Read(), $"more than one record of {requestId}");
        return record;
    }

    [Fact]
    public async Task FortySecondStream_AcrossSigterm_EndsWithDone_AndIsRecorded_ThenTheProcessExits()
    {
        UpstreamTakes(TimeSpan.FromSeconds(40));
        await using var gateway = await StartGatewayAsync();

        var (body, took) = await StreamAcrossSigtermAsync(gateway, "sigterm-40s", TimeSpan.FromSeconds(2));

        output.WriteLine($"stream took {took.TotalSeconds:F1} s, {body.Length} bytes; last event: {body[^Math.Min(body.Length, 40)..].ReplaceLineEndings(" ")}");
        Assert.Contains("event: response.completed", body, StringComparison.Ordinal);
        Assert.EndsWith("data: [DONE]\n\n", body, StringComparison.Ordinal);
        Assert.DoesNotContain("gateway_shutting_down", body, StringComparison.Ordinal);
        Assert.True(took > TimeSpan.FromSeconds(35), $"the stream took {took}: it was not the 40 s one");

        using var exit = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        await gateway.WaitForExitAsync(exit.Token);
        Assert.Equal(0, gateway.ExitCode);
        Assert.Equal(("completed", Fixtures.Usage("text-audio.sse").TotalTokens), Record("sigterm-40s"));
    }

    [Fact]
    public async Task StreamStillOpenWhenTheShutdownTimeoutRunsOut_EndsWithGatewayShuttingDown_AndAnInterruptedRecord()
    {
        UpstreamTakes(TimeSpan.FromSeconds(30));
        await using var gateway = await StartGatewayAsync(shutdownTimeout: "00:00:02");

        var (body, took) = await StreamAcrossSigtermAsync(gateway, "sigterm-cut", TimeSpan.FromSeconds(1));

        output.WriteLine($"stream took {took.TotalSeconds:F1} s, {body.Length} bytes");
        Assert.DoesNotContain("event: response.completed", body, StringComparison.Ordinal);
        Assert.Contains("event: error\ndata: {\"type\":\"error\",\"code\":\"gateway_shutting_down\"", body, StringComparison.Ordinal);
        Assert.True(took < TimeSpan.FromSeconds(20), $"the stream took {took}; the 2 s shutdown timeout should have ended it");

        using var exit = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        await gateway.WaitForExitAsync(exit.Token);
        var (outcome, tokens) = Record("sigterm-cut");
        Assert.Equal(("interrupted", (long?)null), (outcome, tokens));
    }
}
