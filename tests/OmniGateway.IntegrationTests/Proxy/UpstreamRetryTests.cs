using System.Diagnostics;
using System.Net;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.Time.Testing;
using OmniGateway.Usage;
using OmniGateway.Usage.Storage;
using OmniGateway.IntegrationTests.Usage;

namespace OmniGateway.IntegrationTests.Proxy;

/// <summary>
/// Safe retries (issue 10, item 2) against a real loopback upstream: a try that failed before any byte
/// reached the client is repeated, one that already streamed never is, and the record counts the tries.
/// </summary>
public sealed class UpstreamRetryTests : IAsyncLifetime
{
    private FakeUpstream _upstream = null!; // created in InitializeAsync

    public async Task InitializeAsync() => _upstream = await FakeUpstream.StartAsync();

    public async Task DisposeAsync() => await _upstream.DisposeAsync();

    private GatewayFactory Gateway(params (string Key, string Value)[] settings) => Gateway(time: null, settings);

    private GatewayFactory Gateway(TimeProvider? time, params (string Key, string Value)[] settings)
    {
        var all = new Dictionary<string, string?> { ["Upstream:RetryBaseDelay"] = "00:00:00.020" };
        foreach (var (key, value) in settings) all[key] = value;
        return new GatewayFactory(_upstream.BaseUrl, all, time);
    }

    private static Task Answer(HttpContext context) => FakeUpstream.PlayAsync(context, Fixtures.Stream("text-only.sse"), TimeSpan.Zero);

    /// <summary>Answers the first <paramref name="failures"/> tries with <paramref name="fail"/>, then streams.</summary>
    private static Func<HttpContext, Task> FailingFirst(int failures, Func<HttpContext, Task> fail)
    {
        var tries = 0;
        return context => Interlocked.Increment(ref tries) <= failures ? fail(context) : Answer(context);
    }

    private static async Task<(HttpStatusCode Status, string Body)> PostAsync(HttpClient client, string requestId)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, "/v1/responses")
        {
            Content = new StringContent(Fixtures.Request("text-only.json"), Encoding.UTF8, "application/json"),
        };
        request.Headers.Add("x-request-id", requestId);
        using var response = await client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
        return (response.StatusCode, await response.Content.ReadAsStringAsync());
    }

    private static async Task<UsageRecord> RecordOf(GatewayFactory gateway, string requestId)
    {
        var store = LedgerRecords.Of(gateway.Services);
        for (var i = 0; ; i++)
        {
            var record = (await store.ReadRecordsAsync(null, CancellationToken.None)).Select(r => r.Record).SingleOrDefault(r => r.RequestId == requestId);
            if (record is not null) return record;
            if (i == 50) throw new Xunit.Sdk.XunitException($"no usage record for {requestId}");
            await Task.Delay(100);
        }
    }

    [Fact]
    public async Task A503Once_IsRetried_TheClientGets200_AndTheRecordAndLogSayTwoTries()
    {
        await using var gateway = Gateway();
        using var client = gateway.CreateTenantClient();
        _upstream.Respond = FailingFirst(1, c => FakeUpstream.ErrorAsync(c, 503, """{"error":{"message":"overloaded"}}"""));

        var (status, body) = await PostAsync(client, "retry-503");

        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Contains("event: response.completed", body, StringComparison.Ordinal);
        var sent = _upstream.Requests.ToArray();
        Assert.Equal(2, sent.Length);
        Assert.Equal(sent[0].Body, sent[1].Body); // the same enriched body, resent whole
        Assert.Equal(sent[0].Headers["Authorization"], sent[1].Headers["Authorization"]);
        var record = await RecordOf(gateway, "retry-503");
        Assert.Equal((UsageOutcome.Completed, 2), (record.Outcome, record.UpstreamAttempts));
        Assert.Contains(gateway.Logs.GetSnapshot(), e => e.Id.Id == 5100 && e.GetStructuredStateValue("RequestId") == "retry-503" && e.GetStructuredStateValue("Attempt") == "1");
        Assert.Contains(gateway.Logs.GetSnapshot(), e => e.Id.Id == 5101 && e.GetStructuredStateValue("RequestId") == "retry-503" && e.GetStructuredStateValue("Attempts") == "2");
    }

    [Fact]
    public async Task A429_IsRetriedAfterItsRetryAfter_AndOneAskingForMoreThanTheCapGoesToTheClient()
    {
        await using var gateway = Gateway(("Upstream:MaxRetryAfter", "00:00:02"));
        using var client = gateway.CreateTenantClient();
        var arrivals = new List<long>();
        _upstream.Respond = FailingFirst(1, c =>
        {
            lock (arrivals) arrivals.Add(Stopwatch.GetTimestamp());
            c.Response.Headers.RetryAfter = "1";
            return FakeUpstream.ErrorAsync(c, 429, """{"error":{"message":"slow down"}}""");
        });
        var (status, _) = await PostAsync(client, "retry-429");
        var second = Stopwatch.GetTimestamp();

        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal(2, _upstream.Requests.Count);
        Assert.True(Stopwatch.GetElapsedTime(arrivals[0], second) >= TimeSpan.FromMilliseconds(950), "the retry did not wait out Retry-After: 1");
        Assert.Equal(2, (await RecordOf(gateway, "retry-429")).UpstreamAttempts);

        // Retry-After: 30 is past Upstream:MaxRetryAfter: the client gets the 429 and its Retry-After at once.
        _upstream.Respond = c =>
        {
            c.Response.Headers.RetryAfter = "30";
            return FakeUpstream.ErrorAsync(c, 429, """{"error":{"message":"quota"}}""");
        };
        using var request = new HttpRequestMessage(HttpMethod.Post, "/v1/responses") { Content = new StringContent(Fixtures.Request("text-only.json"), Encoding.UTF8, "application/json") };
        request.Headers.Add("x-request-id", "retry-429-long");
        using var refused = await client.SendAsync(request);
        Assert.Equal(HttpStatusCode.TooManyRequests, refused.StatusCode);
        Assert.Equal(TimeSpan.FromSeconds(30), refused.Headers.RetryAfter?.Delta);
        Assert.Equal(3, _upstream.Requests.Count);
        var record = await RecordOf(gateway, "retry-429-long");
        Assert.Equal((UsageOutcome.UpstreamError, 1), (record.Outcome, record.UpstreamAttempts));
    }

    [Fact]
    public async Task AnUpstreamThatBreaksMidStream_IsNotRetried()
    {
        await using var gateway = Gateway();
        using var client = gateway.CreateTenantClient();
        _upstream.Respond = c => FakeUpstream.PlayAsync(c, Fixtures.Stream("text-only.sse"), TimeSpan.FromMilliseconds(2), abortAfterEvents: 4);

        var (status, body) = await PostAsync(client, "mid-stream");

        Assert.Equal(HttpStatusCode.OK, status); // the client had its first bytes: the status was sent
        Assert.Contains("event: response.created", body, StringComparison.Ordinal);
        Assert.DoesNotContain("event: response.completed", body, StringComparison.Ordinal);
        await Task.Delay(300); // a retry, were there one, would have reached the upstream by now
        Assert.Single(_upstream.Requests);
        var record = await RecordOf(gateway, "mid-stream");
        Assert.Equal((UsageOutcome.Interrupted, 1), (record.Outcome, record.UpstreamAttempts));
    }

    [Fact]
    public async Task ARetryBudgetThatRunsOut_GivesTheMappedError()
    {
        await using var gateway = Gateway(("Upstream:MaxAttempts", "3"));
        using var client = gateway.CreateTenantClient();
        _upstream.Respond = c => FakeUpstream.ErrorAsync(c, 503, """{"error":{"message":"still overloaded"}}""");

        var (status, body) = await PostAsync(client, "budget-out");

        Assert.Equal(HttpStatusCode.BadGateway, status);
        using var error = JsonDocument.Parse(body);
        Assert.Equal("upstream_error", error.RootElement.GetProperty("error").GetProperty("code").GetString());
        Assert.Contains("HTTP 503", error.RootElement.GetProperty("error").GetProperty("message").GetString(), StringComparison.Ordinal);
        Assert.Equal(3, _upstream.Requests.Count);
        var record = await RecordOf(gateway, "budget-out");
        Assert.Equal((UsageOutcome.UpstreamError, 3), (record.Outcome, record.UpstreamAttempts));
        Assert.Contains(gateway.Logs.GetSnapshot(), e => e.Id.Id == 5102 && e.GetStructuredStateValue("RequestId") == "budget-out" && e.GetStructuredStateValue("Attempts") == "3");
    }

    [Fact]
    public async Task TheRetryDeadline_BoundsTheTries()
    {
        // Back-offs of 0.4–1.2 s, then 0.8–2.4 s, … against a 2 s deadline: two or three tries, never the ten allowed.
        // They wait on the gateway's clock, which moves on by exactly each back-off: nothing is sat out, and when a
        // try started is read off the clock the deadline is checked on.
        var time = new BackOffSkippingTime(shorterThan: TimeSpan.FromSeconds(2));
        await using var gateway = Gateway(time, ("Upstream:RetryBaseDelay", "00:00:00.800"), ("Upstream:RetryDeadline", "00:00:02"), ("Upstream:MaxAttempts", "10"));
        using var client = gateway.CreateTenantClient();
        var arrivals = new List<long>();
        _upstream.Respond = c =>
        {
            lock (arrivals) arrivals.Add(time.GetTimestamp());
            return FakeUpstream.ErrorAsync(c, 502, """{"error":{"message":"bad gateway"}}""");
        };

        var (status, _) = await PostAsync(client, "deadline");

        Assert.Equal(HttpStatusCode.BadGateway, status);
        Assert.InRange(arrivals.Count, 2, 3);
        Assert.True(time.GetElapsedTime(arrivals[0], arrivals[^1]) < TimeSpan.FromSeconds(2), "a try started after Upstream:RetryDeadline");
        Assert.Equal(arrivals.Count, (await RecordOf(gateway, "deadline")).UpstreamAttempts);
    }

    /// <summary>
    /// A fake clock that moves on by a wait's whole length as soon as the wait starts, for the one-shot waits shorter
    /// than <paramref name="shorterThan"/>: the retry back-offs (<c>Task.Delay</c> on the clock). The first-byte and
    /// stream timeouts are longer, and periodic timers are left alone, so they never fire by this.
    /// </summary>
    private sealed class BackOffSkippingTime(TimeSpan shorterThan) : FakeTimeProvider(DateTimeOffset.UtcNow)
    {
        public override ITimer CreateTimer(TimerCallback callback, object? state, TimeSpan dueTime, TimeSpan period)
        {
            var timer = base.CreateTimer(callback, state, dueTime, period);
            // Advanced once the timer is registered (it would otherwise fall due only after a second advance).
            if (period == Timeout.InfiniteTimeSpan && dueTime > TimeSpan.Zero && dueTime < shorterThan) _ = Task.Run(() => Advance(dueTime));
            return timer;
        }
    }

    [Fact]
    public async Task AClientThatLeaves_StopsTheRetrying()
    {
        // The Retry-After wait runs on the gateway's TimeProvider: the test moves it past the wait instead of sitting it out.
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        await using var gateway = Gateway(time, ("Upstream:MaxRetryAfter", "00:00:05"));
        using var client = gateway.CreateTenantClient();
        var first = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        _upstream.Respond = c =>
        {
            first.TrySetResult();
            c.Response.Headers.RetryAfter = "2";
            return FakeUpstream.ErrorAsync(c, 503, """{"error":{"message":"overloaded"}}""");
        };
        using var leave = new CancellationTokenSource();
        var call = PostAsync(client, "leaves").WaitAsync(leave.Token);

        await first.Task.WaitAsync(TimeSpan.FromSeconds(10));
        await Task.Delay(200);
        leave.Cancel();
        client.CancelPendingRequests();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => call);
        // The record is written once the gateway has seen the client go; only then is the clock moved past the
        // Retry-After it would have waited out (moved earlier, it could beat the news of the disconnect).
        var record = await RecordOf(gateway, "leaves");
        time.Advance(TimeSpan.FromSeconds(2.5));
        await Task.Delay(300); // a retry, were there one, would have reached the upstream by now

        Assert.Single(_upstream.Requests);
        Assert.Equal(UsageOutcome.ClientAborted, record.Outcome);
    }
}
