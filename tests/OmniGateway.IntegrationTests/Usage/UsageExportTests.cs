using System.Collections.Concurrent;
using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.Globalization;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.Options;
using OmniGateway.Usage;
using OmniGateway.Usage.Storage;
using Xunit.Abstractions;

namespace OmniGateway.IntegrationTests.Usage;

/// <summary>Issue 12 item 3: every stored record reaches the configured webhook, at least once, in commit order, from a durable outbox.</summary>
public sealed class UsageExportTests(ITestOutputHelper output)
{
    private const string Secret = "test-webhook-secret-0123456789abcdef";

    private static Dictionary<string, string?> Sink(WebhookReceiver receiver, string name, int batchSize) => new()
    {
        ["Usage:Export:Webhooks:0:Name"] = name,
        ["Usage:Export:Webhooks:0:Url"] = receiver.Url.ToString(),
        ["Usage:Export:Webhooks:0:Secret"] = Secret,
        ["Usage:Export:Webhooks:0:BatchSize"] = batchSize.ToString(CultureInfo.InvariantCulture),
        ["Usage:Export:Webhooks:0:Timeout"] = "00:00:05",
        ["Usage:Export:RetryInitialDelay"] = "00:00:00.050",
        ["Usage:Export:RetryMaxDelay"] = "00:00:00.200",
        ["Usage:Export:PollInterval"] = "00:00:00.200",
    };

    [Theory, EveryStore]
    public async Task EveryStoredRecord_ReachesTheReceiver_ExactlyAsStored_Signed_InCommitOrder(string provider)
    {
        await using var store = await TestStore.CreateAsync(provider);
        await using var receiver = await WebhookReceiver.StartAsync(Secret);
        var sink = "feed-" + Guid.NewGuid().ToString("N")[..8];
        using var metrics = new ExportMetrics(sink);
        await using var gateway = new LedgerGateway(store, settings: Sink(receiver, sink, batchSize: 7));
        using var alpha = gateway.Client(LedgerGateway.AlphaKey);
        using var beta = gateway.Client(LedgerGateway.BetaKey);

        await Parallel.ForAsync(0, 30, async (i, ct) =>
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, "/v1/responses")
            {
                Content = new StringContent(StreamClient.Request($"Export question {i} " + new string('x', i)), Encoding.UTF8, "application/json"),
            };
            request.Headers.Add("x-omnigateway-tags", $"feature=f{i % 3}");
            request.Headers.Add("x-request-id", i == 29 ? "same-id" : i == 28 ? "same-id" : $"export-{i}"); // a caller may repeat an id
            using var response = await (i % 2 == 0 ? alpha : beta).SendAsync(request, ct);
            Assert.Contains("event: response.completed", await response.Content.ReadAsStringAsync(ct), StringComparison.Ordinal);
        });

        var stored = await gateway.Store.ReadRecordsAsync(null, CancellationToken.None);
        Assert.Equal(30, stored.Count);
        await receiver.WaitForAsync(() => receiver.Kept.Count == 30, TimeSpan.FromSeconds(30), "delivery of 30 records");

        Assert.Equal(0, receiver.BadSignatures);
        Assert.Equal(30, receiver.Received.Count); // none twice
        Assert.All(receiver.BatchSizes, size => Assert.InRange(size, 1, 7));
        // Commit order: the store's id order, which is the order its single writer committed in.
        Assert.Equal(stored.Select(s => s.Record.RecordKey), receiver.Received.Select(r => r.GetProperty("idempotency_key").GetString()));
        Assert.Equal(2, receiver.Kept.Values.Count(r => r.GetProperty("request_id").GetString() == "same-id")); // both kept: the key is the record's own

        foreach (var (record, recordedAt) in stored)
        {
            var sent = receiver.Kept[record.RecordKey];
            Assert.Equal(record.RequestId, sent.GetProperty("request_id").GetString());
            Assert.Equal(record.TenantId, sent.GetProperty("tenant").GetString());
            Assert.Equal(record.KeyId, sent.GetProperty("key_id").GetString());
            Assert.Equal(record.Model, sent.GetProperty("model").GetString());
            Assert.Equal(record.Modalities, sent.GetProperty("modalities").GetString());
            Assert.Equal(UsageRecord.OutcomeName(record.Outcome), sent.GetProperty("outcome").GetString());
            Assert.Equal(record.UpstreamResponseId, sent.GetProperty("upstream_response_id").GetString());
            Assert.Equal(record.StartedAt, DateTimeOffset.Parse(sent.GetProperty("started_at").GetString()!, CultureInfo.InvariantCulture));
            Assert.Equal(recordedAt, DateTimeOffset.Parse(sent.GetProperty("recorded_at").GetString()!, CultureInfo.InvariantCulture));
            Assert.Equal(record.DurationMs, sent.GetProperty("duration_ms").GetDouble());
            Assert.Equal(record.UpstreamAttempts, sent.GetProperty("upstream_attempts").GetInt32());
            Assert.Equal(record.Usage!.RawJson, sent.GetProperty("usage").GetRawText());
            Assert.Equal(record.Usage.TotalTokens, sent.GetProperty("total_tokens").GetInt64());
            Assert.Equal(record.Usage.InputTokens, sent.GetProperty("input_tokens").GetInt64());
            Assert.True(sent.GetProperty("usage_reported").GetBoolean());
            Assert.Equal(record.ReservedTokens, sent.GetProperty("reserved_tokens").ValueKind == JsonValueKind.Null ? null : sent.GetProperty("reserved_tokens").GetInt64());
            Assert.Equal(record.Cost!.Amount, sent.GetProperty("cost").GetDecimal());
            Assert.Equal(record.Cost.Currency, sent.GetProperty("currency").GetString());
            Assert.Equal(record.Tags["feature"], sent.GetProperty("tags").GetProperty("feature").GetString());
        }

        await WaitAsync(() => metrics.Value("omnigateway.usage_export.delivered") == 30 && metrics.Value("omnigateway.usage_export.pending") == 0,
            "delivered 30 / pending 0 in the metrics");
        Assert.Equal(0, metrics.Value("omnigateway.usage_export.failures"));
        var ready = await alpha.GetStringAsync("/readyz");
        Assert.Contains("\"usage_export\":{\"status\":\"healthy\"", ready, StringComparison.Ordinal);
    }

    [Theory, EveryStore]
    public async Task AReceiverDownForAWhile_GetsEveryRecordAfterItReturns_AndNoneTwiceOnceAcknowledged(string provider)
    {
        await using var store = await TestStore.CreateAsync(provider);
        await using var receiver = await WebhookReceiver.StartAsync(Secret);
        receiver.Down = true;
        var sink = "feed-" + Guid.NewGuid().ToString("N")[..8];
        using var metrics = new ExportMetrics(sink);
        await using var gateway = new LedgerGateway(store, settings: Sink(receiver, sink, batchSize: 4));
        using var alpha = gateway.Client(LedgerGateway.AlphaKey);

        for (var i = 0; i < 10; i++) Assert.True((await StreamClient.PostAsync(alpha, StreamClient.Request($"While down {i}"))).SawCompleted);
        await receiver.WaitForAsync(() => receiver.Refused >= 5, TimeSpan.FromSeconds(30), "five refused deliveries");
        Assert.Empty(receiver.Received);
        await WaitAsync(() => metrics.Value("omnigateway.usage_export.failures") >= 5 && metrics.Value("omnigateway.usage_export.pending") == 10
                              && metrics.Value("omnigateway.usage_export.lag") > 0, "failures, backlog and lag in the metrics");
        var degraded = await alpha.GetStringAsync("/readyz");
        Assert.Contains("\"usage_export\":{\"status\":\"degraded\"", degraded, StringComparison.Ordinal);
        Assert.Contains("10 pending", degraded, StringComparison.Ordinal);

        receiver.Down = false;
        await receiver.WaitForAsync(() => receiver.Kept.Count == 10, TimeSpan.FromSeconds(30), "delivery after the receiver returned");
        for (var i = 0; i < 5; i++) Assert.True((await StreamClient.PostAsync(alpha, StreamClient.Request($"After {i}"))).SawCompleted);
        await receiver.WaitForAsync(() => receiver.Kept.Count == 15, TimeSpan.FromSeconds(30), "delivery of the later records");
        await Task.Delay(500); // a few more poll rounds: an acknowledged batch must not come again

        var stored = await gateway.Store.ReadRecordsAsync(null, CancellationToken.None);
        Assert.Equal(stored.Select(s => s.Record.RecordKey), receiver.Received.Select(r => r.GetProperty("idempotency_key").GetString()));
        await WaitAsync(() => metrics.Value("omnigateway.usage_export.pending") == 0 && metrics.Value("omnigateway.usage_export.lag") == 0, "an empty outbox");
        Assert.Contains("\"usage_export\":{\"status\":\"healthy\"", await alpha.GetStringAsync("/readyz"), StringComparison.Ordinal);
    }

    [Theory, EveryStore]
    public async Task KilledMidDelivery_TheRestartedGatewayDeliversEveryStoredRecord_AtMostTheInFlightBatchTwice(string provider)
    {
        const int batchSize = 5;
        await using var store = await TestStore.CreateAsync(provider);
        await using var receiver = await WebhookReceiver.StartAsync(Secret);
        receiver.Delay = TimeSpan.FromMilliseconds(40); // slower than the load: a backlog builds up, and the kill lands mid-POST
        var workingDirectory = Path.Combine(Path.GetTempPath(), "og-export-crash-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(workingDirectory);
        var settings = LedgerGateway.ProcessSettings(store);
        foreach (var (key, value) in Sink(receiver, "crash-feed", batchSize)) settings[key] = value;

        int storedAtKill, keptAtKill;
        await using (var gateway = await GatewayProcess.StartAsync(settings, workingDirectory))
        {
            using var client = new HttpClient { BaseAddress = gateway.BaseUrl, Timeout = TimeSpan.FromSeconds(30) };
            client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", LedgerGateway.AlphaKey);
            using var stop = new CancellationTokenSource();
            var workers = Enumerable.Range(0, 40).Select(w => Task.Run(async () =>
            {
                while (!stop.IsCancellationRequested)
                {
                    try
                    {
                        using var response = await client.PostAsync("/v1/responses",
                            new StringContent(StreamClient.Request($"Kill me {w}"), Encoding.UTF8, "application/json"), stop.Token);
                        await response.Content.ReadAsStringAsync(stop.Token);
                    }
                    catch (Exception exception) when (exception is HttpRequestException or IOException or OperationCanceledException)
                    {
                        return;
                    }
                }
            })).ToArray();
            await receiver.WaitForAsync(() => receiver.Kept.Count >= 20, TimeSpan.FromSeconds(30), "the first deliveries");
            await Task.Delay(TimeSpan.FromSeconds(1));
            await gateway.KillAsync();
            keptAtKill = receiver.Kept.Count;
            await stop.CancelAsync();
            await Task.WhenAll(workers);
            storedAtKill = (await LedgerRecords.OfClosedStoreAsync(store)).Count;
        }
        Assert.True(storedAtKill > keptAtKill + batchSize, $"no backlog at the kill ({storedAtKill} stored, {keptAtKill} delivered): the test proves nothing");

        var stopwatch = Stopwatch.StartNew();
        await using (var restarted = await GatewayProcess.StartAsync(settings, workingDirectory))
        {
            await receiver.WaitForAsync(() => receiver.Kept.Count >= storedAtKill, TimeSpan.FromSeconds(60), "delivery of the backlog after the restart");
            await Task.Delay(500);
        }
        var stored = await LedgerRecords.OfClosedStoreAsync(store);
        Assert.Equal(storedAtKill, stored.Count);
        Assert.Equal(stored.Select(r => r.RecordKey).Order(StringComparer.Ordinal), receiver.Kept.Keys.Order(StringComparer.Ordinal)); // none lost, none invented
        var duplicates = receiver.Received.Count - receiver.Kept.Count;
        Assert.InRange(duplicates, 0, batchSize); // only a batch the sink took but the outbox had not yet deleted
        output.WriteLine($"{provider}: {storedAtKill} records stored, {keptAtKill} delivered at SIGKILL, backlog of {storedAtKill - keptAtKill} " +
                         $"delivered {stopwatch.Elapsed.TotalSeconds:0.0} s after the restart began, {duplicates} re-sent");
        try { Directory.Delete(workingDirectory, recursive: true); } catch (IOException) { }
    }

    [Fact]
    public async Task ARecordJournaledWhileTheStoreRefusedWrites_IsStoredPricedAndTagged_AndDeliveredOnce_AsAnyOther()
    {
        await using var store = await TestStore.CreateAsync("Sqlite");
        await using var receiver = await WebhookReceiver.StartAsync(Secret);
        var settings = Sink(receiver, "journal-feed", batchSize: 10);
        settings["Usage:BudgetRefreshInterval"] = "00:00:00.200"; // the tick on which an idle gateway retries its journal
        await using var gateway = new LedgerGateway(store, settings: settings);
        using var alpha = gateway.Client(LedgerGateway.AlphaKey);
        Assert.True((await PostTaggedAsync(alpha, "before-outage")).Contains("event: response.completed", StringComparison.Ordinal));
        await receiver.WaitForAsync(() => receiver.Kept.Count == 1, TimeSpan.FromSeconds(30), "the first record's delivery");

        store.RefuseWrites(true);
        Assert.Contains("\"code\":\"usage_not_recorded\"", await PostTaggedAsync(alpha, "journaled"), StringComparison.Ordinal);
        store.RefuseWrites(false);

        await receiver.WaitForAsync(() => receiver.Kept.Count == 2, TimeSpan.FromSeconds(30), "the journaled record's delivery after the replay");
        await Task.Delay(500); // further replays or polls must not send it again
        var stored = (await gateway.Store.ReadRecordsAsync(null, CancellationToken.None)).Select(r => r.Record).ToList();
        var replayed = Assert.Single(stored, r => r.RequestId == "journaled");
        Assert.StartsWith("rec_", replayed.RecordKey, StringComparison.Ordinal);
        Assert.NotNull(replayed.Cost?.Amount);
        Assert.Equal(stored[0].Cost!.Amount, replayed.Cost!.Amount); // the same call priced the same: the journal kept the cost
        Assert.Equal("voice-search", replayed.Tags["feature"]);
        var sent = receiver.Kept[replayed.RecordKey];
        Assert.Equal(replayed.Cost.Amount, sent.GetProperty("cost").GetDecimal());
        Assert.Equal(replayed.Cost.Currency, sent.GetProperty("currency").GetString());
        Assert.Equal("voice-search", sent.GetProperty("tags").GetProperty("feature").GetString());
        Assert.Equal(2, receiver.Received.Count);
        Assert.Equal(0, receiver.BadSignatures);
    }

    private static async Task<string> PostTaggedAsync(HttpClient client, string requestId)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, "/v1/responses")
        {
            Content = new StringContent(StreamClient.Request("Journal me"), Encoding.UTF8, "application/json"),
        };
        request.Headers.Add("x-omnigateway-tags", "feature=voice-search");
        request.Headers.Add("x-request-id", requestId);
        using var response = await client.SendAsync(request);
        return await response.Content.ReadAsStringAsync();
    }

    private static async Task WaitAsync(Func<bool> condition, string what)
    {
        for (var until = DateTime.UtcNow + TimeSpan.FromSeconds(20); !condition(); await Task.Delay(50))
        {
            if (DateTime.UtcNow > until) throw new TimeoutException(what + " did not happen within 20 s");
        }
    }

    /// <summary>The export instruments of one sink (a unique name per test), read straight from the process's meters.</summary>
    private sealed class ExportMetrics : IDisposable
    {
        private readonly MeterListener _listener = new();
        private readonly ConcurrentDictionary<string, double> _values = new();
        private readonly string _sink;

        public ExportMetrics(string sink)
        {
            _sink = sink;
            _listener.InstrumentPublished = (instrument, listener) =>
            {
                if (instrument.Name.StartsWith("omnigateway.usage_export.", StringComparison.Ordinal)) listener.EnableMeasurementEvents(instrument);
            };
            _listener.SetMeasurementEventCallback<long>((i, v, tags, _) => Note(i, v, tags));
            _listener.SetMeasurementEventCallback<double>((i, v, tags, _) => Note(i, v, tags));
            _listener.Start();
        }

        public double Value(string instrument)
        {
            _listener.RecordObservableInstruments();
            return _values.GetValueOrDefault(instrument, -1);
        }

        private void Note(Instrument instrument, double value, ReadOnlySpan<KeyValuePair<string, object?>> tags)
        {
            foreach (var tag in tags)
            {
                if (tag.Key == "sink" && (string?)tag.Value == _sink) _values[instrument.Name] = value;
            }
        }

        public void Dispose() => _listener.Dispose();
    }
}
