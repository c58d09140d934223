using System.Diagnostics;
using System.Text.Json;
using OmniGateway.IntegrationTests.Usage;
using OmniGateway.Usage;
using Xunit.Abstractions;

namespace OmniGateway.IntegrationTests.Playground;

/// <summary>
/// The playground, the usage view and CORS in a real headless Chromium: tests/browser/playground.test.mjs
/// (node's test runner, playwright-core driving Debian's /usr/bin/chromium; ./test.sh installs both) against
/// this gateway in simulator mode, on a real port, with usage seeded through the real ledger and two pages on
/// other loopback origins — one a tenant allows, one nobody does. Its screenshots go to the test output folder, or to
/// docs/screenshots with OMNIGATEWAY_UPDATE_SCREENSHOTS=1.
/// </summary>
[Trait("Category", "Slow")]
public sealed class PlaygroundBrowserTests(ITestOutputHelper output)
{
    private const string LimitedKey = "og-browser-test-limited-key-33333333333333333333";

    [Fact]
    public async Task Playground_UsageView_AndCrossOriginCalls_WorkInARealBrowser()
    {
        var root = BuildOutput.RepoRoot();
        var script = Path.Combine(root, "tests", "browser", "playground.test.mjs");
        Assert.True(File.Exists(Path.Combine(root, "tests", "browser", "node_modules", "playwright-core", "package.json")),
            "playwright-core is not installed: run ./test.sh (it runs npm ci in tests/browser and installs Debian's chromium).");
        Assert.True(File.Exists(Chromium), $"{Chromium} is missing: run ./test.sh (apt-get install chromium).");

        await using var allowedPage = await BlankPage.StartAsync();
        await using var refusedPage = await BlankPage.StartAsync();
        await using var store = await TestStore.CreateAsync("Sqlite");
        await using var gateway = new LedgerGateway(store, settings: new Dictionary<string, string?>
        {
            ["Gateway:Tenants:0:AllowedOrigins:0"] = allowedPage.Origin,
            ["Gateway:Tenants:2:Id"] = "limited",
            ["Gateway:Tenants:2:KeySha256:0"] = LedgerGateway.Sha256(LimitedKey),
            ["Gateway:Tenants:2:Limits:RequestsPerMinute"] = "1",
            ["Simulator:EventDelay"] = "00:00:00.025", // ~30 events: the text must visibly grow over most of a second
        });
        using var client = gateway.Client(null);
        var gatewayUrl = client.BaseAddress!.ToString().TrimEnd('/');

        // Three earlier UTC days of alpha's usage and one of beta's, through the real ledger.
        var ledger = gateway.Services.GetRequiredService<IUsageLedger>();
        var today = DateTimeOffset.UtcNow.Date;
        var seeded = new List<object>();
        for (var back = 3; back >= 1; back--)
        {
            var day = new DateTimeOffset(today.AddDays(-back), TimeSpan.Zero);
            var (input, cached, outputTokens) = (1000L * back + 200, 100L * back, 500L * back + 50);
            await ledger.AppendAsync(Record("alpha", day.AddHours(10), input, cached, outputTokens), CancellationToken.None);
            seeded.Add(new { day = day.ToString("yyyy-MM-dd"), input, cached, output = outputTokens });
        }
        await ledger.AppendAsync(Record("beta", new DateTimeOffset(today.AddDays(-2), TimeSpan.Zero).AddHours(9), 777, 0, 333), CancellationToken.None);

        // Into the README's docs/screenshots on request only, so a test run leaves the checkout clean.
        var screenshots = Environment.GetEnvironmentVariable("OMNIGATEWAY_UPDATE_SCREENSHOTS") == "1"
            ? Path.Combine(root, "docs", "screenshots")
            : Path.Combine(AppContext.BaseDirectory, "screenshots");
        Directory.CreateDirectory(screenshots);
        var (exitCode, log) = await RunNodeAsync(Path.GetDirectoryName(script)!, ["--test", "--test-reporter=spec", script], new Dictionary<string, string>
        {
            ["GATEWAY_URL"] = gatewayUrl,
            ["TENANT_KEY"] = LedgerGateway.AlphaKey,
            ["LIMITED_KEY"] = LimitedKey,
            ["ADMIN_KEY"] = LedgerGateway.AdminKey,
            ["ALLOWED_PAGE"] = allowedPage.Origin + "/",
            ["REFUSED_PAGE"] = refusedPage.Origin + "/",
            ["SEEDED_USAGE"] = JsonSerializer.Serialize(seeded),
            ["QUESTION_WAV"] = Path.Combine(AppContext.BaseDirectory, "fixtures", "upstream", "audio", "question-tone-0.1s-16k-mono16.wav"),
            ["SCREENSHOT_DIR"] = screenshots,
            ["CHROMIUM"] = Chromium,
        });
        output.WriteLine(log);
        Assert.True(exitCode == 0, "The browser tests failed:\n" + log);

        // The page refused by the browser never reached the ledger: every record of alpha is one the browser saw stream.
        var alphaRecords = (await gateway.Store.ReadRecordsAsync("alpha", CancellationToken.None)).Count(r => r.Record.StartedAt >= today);
        Assert.Equal(ExpectedAlphaCallsToday, alphaRecords);
    }

    /// <summary>The script's successful alpha calls: typed prompt, keyboard send, file, recording, allowed cross-origin page.</summary>
    private const int ExpectedAlphaCallsToday = 5;

    private const string Chromium = "/usr/bin/chromium";

    private static UsageRecord Record(string tenant, DateTimeOffset at, long input, long cached, long outputTokens) => new(
        "req_seed_" + Guid.NewGuid().ToString("N"), tenant, "key_seed", LedgerGateway.Model, "Tina", "text,audio", at, 120, 900,
        UsageOutcome.Completed, "resp_seed", new UpstreamUsage(input, cached, outputTokens, 0, input + outputTokens,
            $"{{\"input_tokens\":{input},\"input_tokens_details\":{{\"cached_tokens\":{cached}}},\"output_tokens\":{outputTokens},\"total_tokens\":{input + outputTokens}}}"));

    private static async Task<(int ExitCode, string Log)> RunNodeAsync(string workingDirectory, string[] arguments, Dictionary<string, string> environment)
    {
        var start = new ProcessStartInfo("node") { WorkingDirectory = workingDirectory };
        foreach (var argument in arguments) start.ArgumentList.Add(argument);
        foreach (var (key, value) in environment) start.Environment[key] = value;
        var (exitCode, stdout, stderr) = await ChildProcess.RunToEndAsync(start, TimeSpan.FromSeconds(120));
        return exitCode == -1 ? (-1, stderr + stdout) : (exitCode, stdout + stderr);
    }

    /// <summary>An empty HTML page on its own loopback port: another origin for the browser to call the gateway from.</summary>
    private sealed class BlankPage : IAsyncDisposable
    {
        private readonly WebApplication _app;

        private BlankPage(WebApplication app, string origin) => (_app, Origin) = (app, origin);

        public string Origin { get; }

        public static async Task<BlankPage> StartAsync()
        {
            var app = LoopbackApp.Create();
            app.MapGet("/", () => Results.Content("<!doctype html><html lang=\"en\"><title>another origin</title><h1>A page on another origin</h1></html>", "text/html"));
            return new BlankPage(app, (await LoopbackApp.StartAsync(app)).GetLeftPart(UriPartial.Authority));
        }

        public async ValueTask DisposeAsync() => await _app.DisposeAsync();
    }
}
