using System.Globalization;
using System.Net;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;
using OmniGateway.Usage;

namespace OmniGateway.IntegrationTests.Usage;

/// <summary>
/// Issue 12: <c>DailyCost</c> / <c>MonthlyCost</c> budgets with the token budgets' reservation rules, tried as a
/// tenant who wants more than it paid for would: bursts, unreported usage, a price change mid-day.
/// </summary>
public sealed class CostBudgetTests(Xunit.Abstractions.ITestOutputHelper output)
{
    private const string Model = LedgerGateway.Model;
    private static readonly string[] TextOnly = ["text"];

    // 0.001 per input token, 0.002 per output token: costs worked out by hand below.
    private static Dictionary<string, string?> Priced(string dailyCost, IDictionary<string, string?>? more = null)
    {
        var settings = new Dictionary<string, string?>
        {
            [$"Models:{Model}:Prices:0:EffectiveFrom"] = "2026-01-01T00:00:00Z",
            [$"Models:{Model}:Prices:0:Currency"] = "USD",
            [$"Models:{Model}:Prices:0:InputPerMillion"] = "1000",
            [$"Models:{Model}:Prices:0:CachedInputPerMillion"] = "1000",
            [$"Models:{Model}:Prices:0:OutputPerMillion"] = "2000",
            ["Gateway:Tenants:0:Limits:DailyCost"] = dailyCost,
        };
        foreach (var (key, value) in more ?? new Dictionary<string, string?>()) settings[key] = value;
        return settings;
    }

    private static StringContent Body(long? maxOutputTokens) => new(JsonSerializer.Serialize(new Dictionary<string, object?>
    {
        ["model"] = Model,
        ["input"] = "Explain cost budgets in one paragraph.",
        ["stream"] = true,
        ["modalities"] = TextOnly,
        ["max_output_tokens"] = maxOutputTokens,
    }), Encoding.UTF8, "application/json");

    private static async Task<List<UsageRecord>> RecordsAsync(LedgerGateway gateway) =>
        (await gateway.Store.ReadRecordsAsync("alpha", CancellationToken.None)).Select(r => r.Record).ToList();

    /// <summary>A call's reservation is released just after its last byte reached the client: wait for that, not for luck.</summary>
    private static async Task<decimal> CommittedOnceReleasedAsync(LedgerGateway gateway, DateTimeOffset now)
    {
        var budgets = gateway.Services.GetRequiredService<CostBudgets>();
        for (var waited = 0; ; waited++)
        {
            var (committed, reserved) = budgets.Snapshot("alpha", BudgetPeriod.Day, now);
            if (reserved == 0) return committed;
            if (waited == 200) throw new TimeoutException($"{reserved} USD still reserved 10 s after the calls ended");
            await Task.Delay(50);
        }
    }

    [Theory, EveryStore]
    public async Task BurstOf30ConcurrentCalls_NeverSpendsPastTheDailyCost_AndTheRefusedNeverReachTheUpstream(string provider)
    {
        const decimal budget = 2m;
        await using var store = await TestStore.CreateAsync(provider);
        await using var upstream = await FakeUpstream.StartAsync();
        upstream.Respond = c => FakeUpstream.ModelAsync(c, wantedOutputTokens: 420, TimeSpan.FromMilliseconds(2));
        await using var gateway = new LedgerGateway(store, upstream.BaseUrl, Priced("2"));
        using var alpha = gateway.Client(LedgerGateway.AlphaKey);

        // Each call asks for 420 output tokens: about 0.86 USD, so the budget holds two whole calls.
        var (admitted, refused) = await Burst.PostAsync(alpha, 30, () => Body(maxOutputTokens: 420));
        Assert.Equal(30, admitted.Count + refused.Count);
        Assert.InRange(admitted.Count, 2, 29);
        Assert.All(refused, r =>
        {
            using var error = JsonDocument.Parse(r.Body);
            Assert.Equal("daily_cost_budget_exceeded", error.RootElement.GetProperty("error").GetProperty("code").GetString());
            Assert.Contains("daily cost budget of 2 USD", error.RootElement.GetProperty("error").GetProperty("message").GetString(), StringComparison.Ordinal);
            Assert.True(r.RetryAfter > TimeSpan.Zero, "every refusal carries Retry-After");
        });
        Assert.Equal(admitted.Count, upstream.Requests.Count); // refused before any upstream call

        var records = await RecordsAsync(gateway);
        Assert.Equal(admitted.Count, records.Count);
        var spent = records.Sum(r => r.Cost!.Amount!.Value);
        Assert.True(spent <= budget, $"spent {spent} USD of {budget} ({admitted.Count} of 30 admitted)");
        output.WriteLine($"{provider}: 30 concurrent calls against a {budget} USD daily budget: {admitted.Count} admitted, {refused.Count} refused, {spent} USD spent");
        // The budget stopped the spend, not the calls' size: a call was cut to the room left.
        Assert.Contains(upstream.Requests, r => r.Json().RootElement.GetProperty("max_output_tokens").GetInt64() < 420);

        // Spent: the next call is refused as used up (resets at midnight UTC), not as reserved by calls in flight.
        var committed = await CommittedOnceReleasedAsync(gateway, DateTimeOffset.UtcNow);
        Assert.Equal(spent, committed); // each cost here is whole nanos, so the totals equal the records' sum
        using var after = await alpha.PostAsync("/v1/responses", Body(maxOutputTokens: 420));
        Assert.Equal(HttpStatusCode.TooManyRequests, after.StatusCode);
        var message = await after.Content.ReadAsStringAsync();
        Assert.Contains("is used up", message, StringComparison.Ordinal);
        Assert.Contains("Limits.DailyCost", message, StringComparison.Ordinal);
        Assert.True(after.Headers.RetryAfter?.Delta > TimeSpan.FromSeconds(1));
    }

    [Fact]
    public async Task ATenantWhoseSpendIsPastItsCostBudget_Gets429BeforeItsBodyIsRead()
    {
        await using var store = await TestStore.CreateAsync("Sqlite");
        await using var upstream = await FakeUpstream.StartAsync();
        // The recorded answer reports 879 input tokens, where the short question's estimate was a few dozen: with 100 output
        // tokens, 1.079 USD, past the 1 USD budget (the input estimate's error is what a budget can be passed by).
        upstream.Respond = c => FakeUpstream.PlayAsync(c, Fixtures.Stream("text-audio.sse"), TimeSpan.Zero);
        await using var gateway = new LedgerGateway(store, upstream.BaseUrl, Priced("1", new Dictionary<string, string?> { ["Gateway:Tenants:0:Limits:CostCurrency"] = "USD" }));
        using var alpha = gateway.Client(LedgerGateway.AlphaKey);
        using (var first = await alpha.PostAsync("/v1/responses", Body(maxOutputTokens: 100)))
            Assert.Contains("\"input_tokens\":879", await first.Content.ReadAsStringAsync(), StringComparison.Ordinal); // cut at its cap: incomplete
        Assert.True(await CommittedOnceReleasedAsync(gateway, DateTimeOffset.UtcNow) > 1m);

        // A large body, claimed and barely begun: refused at once, before a byte more is read or anything is sent upstream.
        await using var next = await OmniGateway.IntegrationTests.Hardening.RawHttp.PostAsync(alpha.BaseAddress!, "/v1/responses", LedgerGateway.AlphaKey,
            300_000, "{\"model\":\"" + Model + "\",\"input\":[");
        var (status, head) = await next.ReadAnswerAsync(TimeSpan.FromSeconds(10));

        Assert.Equal(429, status);
        Assert.Contains("\"code\":\"daily_cost_budget_exceeded\"", head, StringComparison.Ordinal);
        Assert.Contains("is used up: 1.079 USD spent", head, StringComparison.Ordinal);
        Assert.Contains("Retry-After: ", head, StringComparison.OrdinalIgnoreCase);
        Assert.Single(upstream.Requests);
    }

    [Fact]
    public async Task ACallWhoseUsageIsNeverReported_IsChargedItsReservation()
    {
        await using var store = await TestStore.CreateAsync("Sqlite");
        await using var upstream = await FakeUpstream.StartAsync();
        // The stream breaks after three events: the upstream may bill it, but never says how much.
        upstream.Respond = c => FakeUpstream.PlayAsync(c, Fixtures.Stream("text-only.sse"), TimeSpan.FromMilliseconds(5), abortAfterEvents: 3);
        await using var gateway = new LedgerGateway(store, upstream.BaseUrl, Priced("1"));
        using var alpha = gateway.Client(LedgerGateway.AlphaKey);

        using (var broken = await alpha.PostAsync("/v1/responses", Body(maxOutputTokens: 200)))
            Assert.DoesNotContain("response.completed", await broken.Content.ReadAsStringAsync(), StringComparison.Ordinal);

        var record = Assert.Single(await RecordsAsync(gateway));
        Assert.Null(record.Usage);
        Assert.Null(record.Cost!.Amount); // the cost is unknown, not zero...
        var input = record.ReservedTokens!.Value - 200;
        Assert.Equal(input * 0.001m + 200 * 0.002m, record.ReservedCost); // ...and the reservation is kept: input estimate + cap
        Assert.Equal(record.ReservedCost, await CommittedOnceReleasedAsync(gateway, DateTimeOffset.UtcNow)); // ...and charged to the budget

        // What is left (1 − the reservation) bounds the next call's output cap.
        upstream.Respond = c => FakeUpstream.ModelAsync(c, wantedOutputTokens: 1000, TimeSpan.Zero);
        using (var next = await alpha.PostAsync("/v1/responses", Body(maxOutputTokens: 1000)))
            await next.Content.ReadAsStringAsync();
        var forwarded = upstream.Requests.Last().Json().RootElement.GetProperty("max_output_tokens").GetInt64();
        var nextEstimate = (await RecordsAsync(gateway))[1].ReservedTokens!.Value - 1000; // its own body's estimate
        Assert.Equal((long)decimal.Floor((1m - record.ReservedCost!.Value - nextEstimate * 0.001m) / 0.002m), forwarded);
    }

    [Fact]
    public async Task APriceChangeMidDay_PricesAndReservesEachCallAtTheVersionInForceWhenItStarted()
    {
        await using var store = await TestStore.CreateAsync("Sqlite");
        await using var upstream = await FakeUpstream.StartAsync();
        upstream.Respond = c => FakeUpstream.ModelAsync(c, wantedOutputTokens: 5000, TimeSpan.Zero);
        var time = new FakeTimeProvider(new DateTimeOffset(2026, 5, 1, 10, 0, 0, TimeSpan.Zero));
        var settings = Priced("1", new Dictionary<string, string?>
        {
            [$"Models:{Model}:Prices:1:EffectiveFrom"] = "2026-05-01T12:00:00Z", // output price doubles at noon
            [$"Models:{Model}:Prices:1:Currency"] = "USD",
            [$"Models:{Model}:Prices:1:InputPerMillion"] = "1000",
            [$"Models:{Model}:Prices:1:OutputPerMillion"] = "4000",
        });
        await using var gateway = new LedgerGateway(store, upstream.BaseUrl, settings, time);
        using var alpha = gateway.Client(LedgerGateway.AlphaKey);

        using (var morning = await alpha.PostAsync("/v1/responses", Body(maxOutputTokens: 200)))
            Assert.Equal(HttpStatusCode.OK, morning.StatusCode);
        await CommittedOnceReleasedAsync(gateway, time.GetUtcNow());
        time.SetUtcNow(new DateTimeOffset(2026, 5, 1, 12, 0, 0, TimeSpan.Zero));
        using (var noon = await alpha.PostAsync("/v1/responses", Body(maxOutputTokens: 5000)))
            Assert.Equal(HttpStatusCode.OK, noon.StatusCode);

        var records = await RecordsAsync(gateway);
        Assert.Equal(2, records.Count);
        var (first, second) = (records[0], records[1]);
        Assert.Equal(DateTimeOffset.Parse("2026-01-01T00:00:00Z", CultureInfo.InvariantCulture), first.Cost!.PriceEffectiveFrom);
        Assert.Equal(first.Usage!.InputTokens * 0.001m + 200 * 0.002m, first.Cost.Amount);
        Assert.Equal(DateTimeOffset.Parse("2026-05-01T12:00:00Z", CultureInfo.InvariantCulture), second.Cost!.PriceEffectiveFrom);
        // Reserved at the new output rate: the cap is what the budget's remainder buys at 0.004 a token.
        var secondInputEstimate = second.ReservedTokens!.Value - 5000;
        var forwarded = upstream.Requests.Last().Json().RootElement.GetProperty("max_output_tokens").GetInt64();
        Assert.Equal((long)decimal.Floor((1m - first.Cost.Amount!.Value - secondInputEstimate * 0.001m) / 0.004m), forwarded);
        Assert.Equal(second.Usage!.InputTokens * 0.001m + forwarded * 0.004m, second.Cost.Amount);
        Assert.True(first.Cost.Amount + second.Cost.Amount <= 1m);

        using var refused = await alpha.PostAsync("/v1/responses", Body(maxOutputTokens: 100));
        Assert.Equal(HttpStatusCode.TooManyRequests, refused.StatusCode);
        Assert.Contains("\"code\":\"daily_cost_budget_exceeded\"", await refused.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task CostBudgets_AreValidated_AtStartUp_AndThroughTheAdminApi_AndShownInTheTenantDocument()
    {
        await using var store = await TestStore.CreateAsync("Sqlite");
        // A budget said to be in EUR against models priced in USD: start-up refuses, naming the key and both currencies.
        await using (var wrong = new LedgerGateway(store, settings: Priced("5", new Dictionary<string, string?> { ["Gateway:Tenants:0:Limits:CostCurrency"] = "EUR" })))
        {
            var failure = Assert.ThrowsAny<Exception>(() => wrong.Client(LedgerGateway.AlphaKey)).ToString();
            Assert.Contains("Gateway:Tenants:0:Limits:CostCurrency is EUR", failure, StringComparison.Ordinal);
            Assert.Contains("priced in USD", failure, StringComparison.Ordinal);
        }

        await using var gateway = new LedgerGateway(store, settings: Priced("5"));
        using var admin = gateway.Client(LedgerGateway.AdminKey);
        var cases = new (string Limits, string Param, string Says)[]
        {
            ("""{"DailyCost":-1}""", "Limits.DailyCost", "non-negative"),
            ("""{"MonthlyCost":"10"}""", "Limits.MonthlyCost", "non-negative"),
            ("""{"DailyCost":0.0000000001}""", "Limits.DailyCost", "decimal places"),
            ("""{"DailyCost":5,"CostCurrency":"EUR"}""", "Limits.CostCurrency", "priced in USD"),
            ("""{"DailyCost":5,"CostCurrency":"usd"}""", "Limits.CostCurrency", "ISO 4217"),
        };
        foreach (var (limits, param, says) in cases)
        {
            using var response = await admin.PostAsync("/admin/tenants",
                new StringContent($$"""{"Id":"spender","Limits":{{limits}}}""", Encoding.UTF8, "application/json"));
            var text = await response.Content.ReadAsStringAsync();
            Assert.True(response.StatusCode == HttpStatusCode.BadRequest, $"{limits}: {response.StatusCode} {text}");
            using var error = JsonDocument.Parse(text);
            Assert.Equal(param, error.RootElement.GetProperty("error").GetProperty("param").GetString());
            Assert.Contains(says, error.RootElement.GetProperty("error").GetProperty("message").GetString(), StringComparison.Ordinal);
        }

        using var created = await admin.PostAsync("/admin/tenants",
            new StringContent("""{"Id":"spender","Limits":{"DailyCost":2.5,"MonthlyCost":40,"CostCurrency":"USD"}}""", Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        using (var document = JsonDocument.Parse(await created.Content.ReadAsStringAsync()))
        {
            var limits = document.RootElement.GetProperty("Limits");
            Assert.Equal(2.5m, limits.GetProperty("DailyCost").GetDecimal());
            Assert.Equal(40m, limits.GetProperty("MonthlyCost").GetDecimal());
            Assert.Equal("USD", limits.GetProperty("CostCurrency").GetString());
        }
        using var patched = await admin.PatchAsync("/admin/tenants/spender",
            new StringContent("""{"Limits":{"DailyCost":null}}""", Encoding.UTF8, "application/json"));
        using (var document = JsonDocument.Parse(await patched.Content.ReadAsStringAsync()))
        {
            Assert.Equal(JsonValueKind.Null, document.RootElement.GetProperty("Limits").GetProperty("DailyCost").ValueKind);
            Assert.Equal(40m, document.RootElement.GetProperty("Limits").GetProperty("MonthlyCost").GetDecimal());
        }
        var configured = await admin.GetStringAsync("/admin/tenants/alpha");
        Assert.Contains("\"DailyCost\":5", configured, StringComparison.Ordinal);
    }
}
