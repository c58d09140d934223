using System.Net;
using System.Text;
using System.Text.Json;
using OmniGateway.IntegrationTests.Usage;

namespace OmniGateway.IntegrationTests.RateLimiting;

/// <summary>Budgets as a hard bound: reservations of input estimate plus output cap, the cap clamped and forwarded.</summary>
public sealed class BudgetBoundTests : GatewayTest
{
    private const long DailyBudget = 4000;

    protected override IDictionary<string, string?> Settings => new Dictionary<string, string?>
    {
        ["Gateway:Tenants:0:Limits:DailyTokens"] = DailyBudget.ToString(System.Globalization.CultureInfo.InvariantCulture),
    };

    private static readonly string[] TextOnly = ["text"];

    private static StringContent Body(long? maxOutputTokens) => new(JsonSerializer.Serialize(new Dictionary<string, object?>
    {
        ["model"] = "qwen3.5-omni-plus-all",
        ["input"] = "Explain token budgets in one paragraph.",
        ["stream"] = true,
        ["modalities"] = TextOnly,
        ["max_output_tokens"] = maxOutputTokens,
    }), Encoding.UTF8, "application/json");

    [Fact]
    public async Task BurstOf40ConcurrentCalls_AfterFifteenTinyOnes_SpendsNoMoreThanTheDailyBudget()
    {
        // The burst: 15 tiny calls, then 40 concurrent calls of about 440 tokens each (each asks for 420 output tokens).
        // The upstream sees the gateway's headers, not the client's: tiny calls are told apart by their cap.
        Upstream.Respond = context =>
        {
            var tiny = Encoding.UTF8.GetString(FakeUpstream.RequestBody(context)).Contains("\"max_output_tokens\":10 ", StringComparison.Ordinal);
            return FakeUpstream.ModelAsync(context, wantedOutputTokens: tiny ? 10 : 420, TimeSpan.FromMilliseconds(5));
        };
        for (var i = 0; i < 15; i++)
        {
            using var tiny = await Client.PostAsync("/v1/responses", Body(maxOutputTokens: 10));
            Assert.Equal(HttpStatusCode.OK, tiny.StatusCode);
            await tiny.Content.ReadAsStringAsync();
        }
        var spentByTiny = await TotalTokensAsync();
        Assert.InRange(spentByTiny, 15, 1500);

        var (admitted, refused) = await Burst.PostAsync(Client, 40, () => Body(maxOutputTokens: 420));
        Assert.Equal(40, admitted.Count + refused.Count);
        Assert.NotEmpty(admitted);
        Assert.NotEmpty(refused);
        Assert.All(refused, r =>
        {
            Assert.Contains("\"code\":\"token_budget_exceeded\"", r.Body, StringComparison.Ordinal);
            Assert.True(r.RetryAfter > TimeSpan.Zero, "every refusal carries Retry-After");
        });

        var spent = await TotalTokensAsync();
        Assert.True(spent <= DailyBudget, $"the tenant spent {spent} tokens against a budget of {DailyBudget} ({admitted.Count} of 40 burst calls admitted)");
        // The budget did the stopping, not the calls' own size: the last admitted call was cut at the budget.
        Assert.Contains(admitted, r => r.Body.Contains("event: response.incomplete", StringComparison.Ordinal));
        File.AppendAllText(Path.Combine(Path.GetTempPath(), "omnigateway-burst.txt"),
            $"{DateTimeOffset.UtcNow:O} burst: tiny {spentByTiny}, total {spent} of {DailyBudget}, admitted {admitted.Count}/40\n");
    }

    [Fact]
    public async Task CallsWithTheirOwnCap_RunSideBySide_AndTheOneThatDoesNotFitWhole_IsForwardedTheRoomLeft()
    {
        Upstream.Respond = context => FakeUpstream.ModelAsync(context, wantedOutputTokens: 900, TimeSpan.FromMilliseconds(20));
        var calls = await Task.WhenAll(Enumerable.Range(0, 6).Select(async _ =>
        {
            using var response = await Client.PostAsync("/v1/responses", Body(maxOutputTokens: 900));
            return (response.StatusCode, Body: await response.Content.ReadAsStringAsync());
        }));

        Assert.True(calls.Count(c => c.StatusCode == HttpStatusCode.OK) >= 4,
            "four 900-token calls fit a 4000-token budget side by side: " + string.Join(" | ", calls.Select(c => $"{c.StatusCode} {c.Body[..Math.Min(300, c.Body.Length)]}")));
        var forwarded = Upstream.Requests.Select(r => r.Json().RootElement.GetProperty("max_output_tokens").GetInt64()).ToList();
        Assert.Contains(900, forwarded);
        Assert.Contains(forwarded, cap => cap < 900); // the fifth: clamped to the room the first four left
        Assert.True(await TotalTokensAsync() <= DailyBudget);
    }

    [Fact]
    public async Task CallWithoutCap_ReservesTheModelsMaxOutput_ClampedToTheBudget_SoAConcurrentCallIsRefused()
    {
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        Upstream.Respond = async context =>
        {
            await release.Task.WaitAsync(TimeSpan.FromSeconds(20));
            await FakeUpstream.ModelAsync(context, wantedOutputTokens: 100_000, TimeSpan.Zero);
        };
        var first = Client.PostAsync("/v1/responses", Body(maxOutputTokens: null));
        while (Upstream.Requests.IsEmpty) await Task.Delay(10);
        var forwarded = Upstream.Requests.Single().Json().RootElement.GetProperty("max_output_tokens").GetInt64();
        Assert.InRange(forwarded, DailyBudget - 200, DailyBudget - 1); // the model's 16 384, lowered to the budget less the input estimate

        using (var second = await Client.PostAsync("/v1/responses", Body(maxOutputTokens: 100)))
        {
            Assert.Equal(HttpStatusCode.TooManyRequests, second.StatusCode);
            Assert.Equal("token_budget_exceeded", (await ErrorOf(second)).GetProperty("code").GetString());
            Assert.Equal(TimeSpan.FromSeconds(1), second.Headers.RetryAfter?.Delta); // only reserved: worth retrying soon
        }
        release.SetResult();
        using var completed = await first;
        Assert.Contains("event: response.incomplete", await completed.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.True(await TotalTokensAsync() <= DailyBudget);
    }

    [Fact]
    public async Task CallWhoseUsageIsNeverReported_KeepsNullTokens_ButIsChargedItsReservation_AndShownApart()
    {
        // The stream breaks after three events: the upstream may bill it, but never says how much.
        // (Either as an SSE error after the 200 or, should the break beat the first event, as a 502: no usage either way.)
        Upstream.Respond = context => FakeUpstream.PlayAsync(context, Fixtures.Stream("text-only.sse"), TimeSpan.FromMilliseconds(10), abortAfterEvents: 3);
        using (var broken = await Client.PostAsync("/v1/responses", Body(maxOutputTokens: 1000)))
            Assert.DoesNotContain("response.completed", await broken.Content.ReadAsStringAsync(), StringComparison.Ordinal);

        var record = Assert.Single(await LedgerRecords.Of(Gateway.Services).ReadRecordsAsync("web", CancellationToken.None)).Record;
        Assert.Null(record.Usage);
        Assert.False(record.UsageReported);
        Assert.InRange(record.ReservedTokens ?? 0, 1001, 1200); // input estimate plus the 1000-token cap

        using var usage = JsonDocument.Parse(await Client.GetStringAsync("/v1/usage"));
        var row = Assert.Single(usage.RootElement.GetProperty("data").EnumerateArray().ToList());
        Assert.Equal(0, row.GetProperty("total_tokens").GetInt64()); // the token sums stay the upstream's truth
        Assert.Equal(1, row.GetProperty("unreported_requests").GetInt64());
        Assert.Equal(record.ReservedTokens, row.GetProperty("reserved_tokens").GetInt64());
        using var csv = new HttpRequestMessage(HttpMethod.Get, "/v1/usage");
        csv.Headers.Accept.ParseAdd("text/csv");
        var table = await (await Client.SendAsync(csv)).Content.ReadAsStringAsync();
        Assert.EndsWith($",1,{record.ReservedTokens},,{record.Cost?.Currency}\r\n", table, StringComparison.Ordinal); // cost unknown, not zero

        // The budget was charged the reservation, not zero: 4000 less it leaves no room for a 3500-token call.
        Upstream.Respond = context => FakeUpstream.ModelAsync(context, wantedOutputTokens: 3500, TimeSpan.Zero);
        using (var next = await Client.PostAsync("/v1/responses", Body(maxOutputTokens: 3500)))
            await next.Content.ReadAsStringAsync();
        var forwarded = Upstream.Requests.Last().Json().RootElement.GetProperty("max_output_tokens").GetInt64();
        Assert.True(forwarded <= DailyBudget - record.ReservedTokens, $"forwarded {forwarded}");
    }

    [Fact]
    public async Task InvalidMaxOutputTokens_Is400NamingTheField()
    {
        using var response = await Client.PostAsync("/v1/responses",
            new StringContent("""{"model":"qwen3.5-omni-plus-all","input":"Hi","max_output_tokens":-5}""", Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        var error = await ErrorOf(response);
        Assert.Equal("max_output_tokens", error.GetProperty("param").GetString());
        Assert.Empty(Upstream.Requests);
    }

    private async Task<long> TotalTokensAsync()
    {
        using var usage = JsonDocument.Parse(await Client.GetStringAsync("/v1/usage"));
        return usage.RootElement.GetProperty("data").EnumerateArray().Sum(row => row.GetProperty("total_tokens").GetInt64());
    }
}
