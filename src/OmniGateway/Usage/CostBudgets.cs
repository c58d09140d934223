using System.Globalization;
using OmniGateway.Errors;
using OmniGateway.Tenants;
using OmniGateway.Usage.Pricing;
using OmniGateway.Validation;

namespace OmniGateway.Usage;

/// <summary>
/// Daily and monthly cost budgets (<c>Limits:DailyCost</c> / <c>MonthlyCost</c>), with the token budgets'
/// reservation rules: an admitted call reserves its worst-case cost — the input estimate and the output cap
/// at the highest input and output rates of the price version in force when it starts — until its record is
/// stored; the output cap is lowered to what the tighter budget has left; a call that cannot fit even a
/// minimal answer is refused before the upstream is called. The call is then priced with that same version,
/// so its cost never exceeds its reservation beyond the input estimate's error, and a call whose usage is
/// never reported is charged its reservation. Committed totals come from the store (<c>usage_totals.cost_nanos</c>).
/// </summary>
public sealed class CostBudgets(TimeProvider time, PriceTable prices)
{
    /// <summary>The totals count 1e-9 currency units; a charge is rounded up to one, so a budget is never undercounted.</summary>
    public const decimal NanosPerUnit = 1_000_000_000m;

    /// <summary>The cost budgets' name in <c>omnigateway_admission_refusals_total{limit}</c>.</summary>
    public const string RefusedLimit = "cost_budget";

    private readonly PeriodCounters<decimal> _counters = new(static total => total.CostNanos / NanosPerUnit);

    /// <summary>
    /// Reserves the call's worst-case cost, lowering its output cap to fit. <paramref name="request"/> is the
    /// token-admitted request: its output cap is what the token budgets left. Dispose once the record is stored.
    /// </summary>
    public CostAdmission Admit(TenantContext tenant, ValidatedRequest request)
    {
        var limits = tenant.Limits;
        if (!limits.HasCostBudget) return new CostAdmission(request);
        var now = time.GetUtcNow();
        if (prices.Find(request.Model.Id, now) is not { } price) return new CostAdmission(NotPriced(request.Model.Id));

        var inputRate = Math.Max(price.InputPerMillion, Math.Max(price.CachedInputPerMillion, price.AudioInputPerMillion ?? 0));
        var outputRate = Math.Max(price.OutputPerMillion, price.AudioOutputPerMillion ?? 0);
        var input = request.InputTokenEstimate;
        // Token admission reserved input + the output cap it forwards (lowered to its budgets' room).
        var outputCap = request.ReservedTokens is { } held ? held - input : request.MaxOutputTokens;
        var inputCost = input * inputRate / 1_000_000m;
        var minimum = inputCost + Math.Min(TokenBudgets.MinOutputTokens, outputCap) * outputRate / 1_000_000m;

        var day = UsagePeriods.Start(BudgetPeriod.Day, now).ToUnixTimeMilliseconds();
        var month = UsagePeriods.Start(BudgetPeriod.Month, now).ToUnixTimeMilliseconds();
        var budget = _counters.For(tenant.TenantId);
        lock (budget)
        {
            var output = outputCap;
            if (Fit(budget, BudgetPeriod.Day, day, limits.DailyCost, price.Currency, inputCost, minimum, outputRate, ref output, now) is { } dayRefusal)
                return new CostAdmission(dayRefusal);
            if (Fit(budget, BudgetPeriod.Month, month, limits.MonthlyCost, price.Currency, inputCost, minimum, outputRate, ref output, now) is { } monthRefusal)
                return new CostAdmission(monthRefusal);

            if (output < outputCap && !request.ForwardMaxOutputTokens(output))
                throw new InvalidOperationException("A cost-budgeted call carries no max_output_tokens to lower (RequestValidator forwards one when a budget is set).");
            var reservation = inputCost + output * outputRate / 1_000_000m;
            var hold = budget.Reserve(limits.DailyCost is null ? null : day, limits.MonthlyCost is null ? null : month, reservation);
            var admitted = request with { ReservedCost = new CostReservation(UsageCost.Normalize(reservation), price) };
            return new CostAdmission(admitted, hold);
        }
    }

    /// <summary>
    /// The 429 when committed spend alone is past a cost budget: then no call fits, whatever its size, until the period
    /// ends (a free model's call needs no room, so only spend past the limit counts, not spend at it). Asked before the
    /// body is read, as <see cref="TokenBudgets.Spent"/> is.
    /// </summary>
    public GatewayError? Spent(TenantContext tenant)
    {
        var limits = tenant.Limits;
        if (!limits.HasCostBudget) return null;
        var now = time.GetUtcNow();
        return SpentIn(tenant, BudgetPeriod.Day, limits.DailyCost, now) ?? SpentIn(tenant, BudgetPeriod.Month, limits.MonthlyCost, now);
    }

    private GatewayError? SpentIn(TenantContext tenant, BudgetPeriod period, decimal? limit, DateTimeOffset now)
    {
        if (limit is not { } max) return null;
        var committed = _counters.Snapshot(tenant.TenantId, period, now).Committed;
        if (committed <= max) return null;
        // Before the body the model is not known, so neither is its price's currency unless the tenant names it.
        var (currency, note) = tenant.Limits.CostCurrency is { } named ? (" " + named, "") : ("", " (in the currency its models are priced in)");
        return UsedUp(period, max, committed, currency, now, afterBody: false, spentNote: note);
    }

    /// <summary>What the store now holds after a commit (absolute totals, so other instances' spend is included).</summary>
    public void Apply(IReadOnlyList<PeriodTotal> totals) => _counters.Apply(totals);

    /// <summary>Replaces every committed total with the store's (start-up and periodic refresh), dropping past periods.</summary>
    public void Reload(IReadOnlyList<PeriodTotal> totals, DateTimeOffset now) => _counters.Reload(totals, now);

    /// <summary>Committed and reserved cost of a tenant in the period holding <paramref name="instant"/>.</summary>
    public (decimal Committed, decimal Reserved) Snapshot(string tenantId, BudgetPeriod period, DateTimeOffset instant) =>
        _counters.Snapshot(tenantId, period, instant);

    /// <summary>What a stored record charges the cost budgets: its cost, or its reservation when usage was never reported; 1e-9 units, rounded up.</summary>
    public static long ChargedNanos(UsageRecord record)
    {
        var amount = record.UsageReported ? record.Cost?.Amount : record.ReservedCost;
        if (amount is not { } value || value <= 0) return 0;
        return (long)decimal.Ceiling(Math.Min(value, 9_000_000_000m) * NanosPerUnit);
    }

    private static GatewayError? Fit(PeriodCounters<decimal>.TenantCounters budget, BudgetPeriod period, long start, decimal? limit, string currency, decimal inputCost, decimal minimum,
        decimal outputRate, ref long output, DateTimeOffset now)
    {
        if (limit is not { } max) return null;
        var counter = budget.Counter(period, start);
        var room = max - counter.Committed - counter.Reserved;
        if (room >= minimum)
        {
            if (outputRate > 0 && (room - inputCost) * 1_000_000m / outputRate is var fits && fits < output) output = (long)decimal.Floor(fits);
            return null;
        }
        if (max - counter.Committed >= minimum)
        {
            // Only reserved by calls in flight: they may end costing less.
            var name = period == BudgetPeriod.Day ? "daily" : "monthly";
            return GatewayErrors.RateLimited($"{name}_cost_budget_exceeded", $"Requests in flight have reserved the rest of this tenant's {name} cost budget of {Money(max)} {currency}. " +
                "Retry when they finish (see Retry-After); what they do not spend becomes available again. A lower max_output_tokens reserves less.", 1);
        }
        return UsedUp(period, max, counter.Committed, " " + currency, now, afterBody: true,
            $", and this call needs at least {Money(minimum)} {currency} (its input and {Money(TokenBudgets.MinOutputTokens)} output tokens at the current price)");
    }

    /// <summary>
    /// The 429 of a budget its committed spend has used up, until the period's end. <paramref name="afterBody"/>: the refused
    /// call is known (and <paramref name="spentNote"/> says what it needed), so a shorter input is one way out.
    /// </summary>
    private static GatewayError UsedUp(BudgetPeriod period, decimal max, decimal committed, string currency, DateTimeOffset now, bool afterBody, string spentNote)
    {
        var name = period == BudgetPeriod.Day ? "daily" : "monthly";
        var reset = UsagePeriods.End(period, now);
        return GatewayErrors.RateLimited($"{name}_cost_budget_exceeded",
            $"This tenant's {name} cost budget of {Money(max)}{currency} is used up: {Money(committed)}{currency} spent{spentNote}. It resets at " +
            $"{reset.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture)} (UTC); retry after the time given in Retry-After, " +
            $"{(afterBody ? "send a shorter input, " : "")}or ask the gateway's operator to raise Limits.{(period == BudgetPeriod.Day ? "DailyCost" : "MonthlyCost")}.",
            (int)Math.Ceiling((reset - now).TotalSeconds));
    }

    private static GatewayError NotPriced(string model) =>
        GatewayErrors.Forbidden($"Your tenant has a cost budget, and model '{model}' has no price in force yet, so this call's cost cannot be bounded. " +
                                $"Ask the gateway's operator to add a price version in force now (Models:{model}:Prices).");

    private static string Money(decimal amount) => UsageCost.Normalize(decimal.Round(amount, 9, MidpointRounding.ToPositiveInfinity)).ToString(CultureInfo.InvariantCulture);
}

/// <summary>What admission reserved against the cost budgets, and the price version it used (the call is priced with it).</summary>
public sealed record CostReservation(decimal Amount, ModelPrice Price);

/// <summary>Admitted (holding a cost reservation until disposed; none when the tenant has no cost budget) or refused.</summary>
public sealed class CostAdmission : IDisposable
{
    private readonly PeriodCounters<decimal>.Hold? _hold;
    private int _released;

    internal CostAdmission(GatewayError rejection) => Rejection = rejection;

    internal CostAdmission(ValidatedRequest request) => Request = request;

    internal CostAdmission(ValidatedRequest request, PeriodCounters<decimal>.Hold hold) => (Request, _hold) = (request, hold);

    /// <summary>The request to forward (carrying its reservation to the record); null when refused.</summary>
    public ValidatedRequest? Request { get; }

    public GatewayError? Rejection { get; }

    public void Dispose()
    {
        if (_hold is { } hold && Interlocked.Exchange(ref _released, 1) == 0) hold.Release();
    }
}
