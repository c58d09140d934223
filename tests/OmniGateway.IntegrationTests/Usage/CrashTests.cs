using System.Collections.Concurrent;
using System.Net.Http.Headers;
using System.Net.ServerSentEvents;
using System.Text;
using Microsoft.Extensions.Options;
using OmniGateway.Usage;
using OmniGateway.Usage.Storage;
using Xunit.Abstractions;

namespace OmniGateway.IntegrationTests.Usage;

/// <summary>
/// Contract 5: a client that saw a complete response is accounted even if the gateway dies the next
/// instant. Many streams run against a real gateway process, which gets SIGKILL mid-flight; after a
/// restart on the same store, every completion a client saw has its record.
/// </summary>
[Trait("Category", "Slow")]
public sealed class CrashTests(ITestOutputHelper output)
{
    private const int Workers = 120;

    [Theory, EveryStore]
    public async Task KilledWithStreamsInFlight_EveryCompletionAClientSawIsStored_AndTheStoreReopens(string provider)
    {
        await using var store = await TestStore.CreateAsync(provider);
        var workingDirectory = Path.Combine(Path.GetTempPath(), "og-crash-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(workingDirectory);
        var settings = LedgerGateway.ProcessSettings(store);

        var completed = new ConcurrentDictionary<string, bool>();
        var started = 0;
        var inFlight = 0;
        int inFlightAtKill;
        await using (var gateway = await GatewayProcess.StartAsync(settings, workingDirectory))
        {
            using var client = new HttpClient { BaseAddress = gateway.BaseUrl, Timeout = TimeSpan.FromSeconds(30) };
            client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", LedgerGateway.AlphaKey);
            using var stop = new CancellationTokenSource();
            var workers = Enumerable.Range(0, Workers).Select(w => Task.Run(async () =>
            {
                for (var n = 0; !stop.IsCancellationRequested; n++)
                {
                    var id = $"crash-{w}-{n}";
                    Interlocked.Increment(ref started);
                    Interlocked.Increment(ref inFlight);
                    try
                    {
                        if (!await StreamAsync(client, id, completed)) return;
                    }
                    finally
                    {
                        Interlocked.Decrement(ref inFlight);
                    }
                }
            })).ToArray();

            // At least 3 s, and on past the first rounds of completions however loaded the machine is (bounded).
            await Task.Delay(TimeSpan.FromSeconds(3));
            for (var waited = 0; completed.Count <= 2 * Workers && waited < 600; waited++) await Task.Delay(100);
            inFlightAtKill = Volatile.Read(ref inFlight);
            await gateway.KillAsync();
            await stop.CancelAsync();
            await Task.WhenAll(workers);
        }

        // The store opens cleanly: the restarted gateway migrates, reports ready, and takes new calls.
        await using (var restarted = await GatewayProcess.StartAsync(settings, workingDirectory))
        {
            using var client = new HttpClient { BaseAddress = restarted.BaseUrl };
            client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", LedgerGateway.AlphaKey);
            var ready = await client.GetStringAsync("/readyz");
            Assert.Contains("\"usage_store\":{\"status\":\"healthy\"", ready, StringComparison.Ordinal);
            var after = new ConcurrentDictionary<string, bool>();
            Assert.True(await StreamAsync(client, "after-restart", after) && after.ContainsKey("after-restart"), restarted.LastLines);
        }

        var records = (await LedgerRecords.OfClosedStoreAsync(store)).ToDictionary(r => r.RequestId, r => r, StringComparer.Ordinal);
        var missing = completed.Keys.Where(id => !records.TryGetValue(id, out var r) || r.Outcome != UsageOutcome.Completed).ToList();
        output.WriteLine($"{provider}: {Workers} concurrent clients, {started} streams started, {inFlightAtKill} in flight at SIGKILL, " +
                         $"{completed.Count} completions seen by clients, {records.Count - 1} records stored before the kill, missing {missing.Count}");
        Assert.True(completed.Count > Workers, $"too few completions ({completed.Count}) to mean anything");
        Assert.True(inFlightAtKill > 0, "no stream was in flight at the kill");
        Assert.Empty(missing);
        Assert.True(records.ContainsKey("after-restart"));
        try { Directory.Delete(workingDirectory, recursive: true); } catch (IOException) { }
    }

    /// <summary>Streams one response; notes its id the moment <c>response.completed</c> arrives. False once the gateway is gone.</summary>
    private static async Task<bool> StreamAsync(HttpClient client, string id, ConcurrentDictionary<string, bool> completed)
    {
        try
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, "/v1/responses")
            {
                Content = new StringContent(StreamClient.Request($"Crash test question {id}"), Encoding.UTF8, "application/json"),
            };
            request.Headers.Add("x-request-id", id);
            using var response = await client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
            await using var body = await response.Content.ReadAsStreamAsync();
            await foreach (var item in SseParser.Create(body).EnumerateAsync())
                if (item.EventType == "response.completed") completed.TryAdd(id, true);
            return true;
        }
        catch (Exception exception) when (exception is HttpRequestException or IOException or TaskCanceledException)
        {
            return false;
        }
    }
}
