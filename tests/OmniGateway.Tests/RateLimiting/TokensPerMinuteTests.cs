using Microsoft.Extensions.Time.Testing;
using OmniGateway.RateLimiting;
using OmniGateway.Tenants;

namespace OmniGateway.Tests.RateLimiting;

public sealed class TokensPerMinuteTests
{
    private static TenantContext Tenant(long? limit) =>
        new("web", "key_1", [], new TenantLimits { TokensPerMinute = limit });

    [Fact]
    public void CallsStartUntilTheMinutesTokensReachTheLimit_ThenAfterTheyAgeOut()
    {
        var time = new FakeTimeProvider(new DateTimeOffset(2026, 11, 25, 12, 0, 5, TimeSpan.Zero));
        var window = new TokensPerMinute(time);

        window.Add("web", 600);
        Assert.Null(window.Admit(Tenant(1000), 0).Refusal);
        time.Advance(TimeSpan.FromSeconds(20));
        window.Add("web", 400);

        var refused = window.Admit(Tenant(1000), 0).Refusal;
        Assert.NotNull(refused);
        Assert.Equal(429, refused.Status);
        Assert.Equal("tokens_per_minute_exceeded", refused.Code);
        // The first 600 tokens (bucket 12:00:00–12:00:10) stop counting at 12:01:00, 35 s from now.
        Assert.Equal(35, refused.RetryAfterSeconds);

        time.Advance(TimeSpan.FromSeconds(35));
        Assert.Null(window.Admit(Tenant(1000), 0).Refusal);
    }

    [Fact]
    public void NoLimit_OrOtherTenantsUsage_NeverRefuses()
    {
        var window = new TokensPerMinute(new FakeTimeProvider());
        window.Add("other", 1_000_000);
        window.Add("web", 1_000_000);

        Assert.Null(window.Admit(Tenant(null), 0).Refusal);
        Assert.Null(window.Admit(new TenantContext("third", "key_2", [], new TenantLimits { TokensPerMinute = 10 }), 0).Refusal);
    }

    [Fact]
    public void ReservationsInFlight_CountAgainstTheMinute_UntilReleased()
    {
        var window = new TokensPerMinute(new FakeTimeProvider());
        var (lease, refusal) = window.Admit(Tenant(1000), 1000);
        Assert.Null(refusal);

        var second = window.Admit(Tenant(1000), 10);
        Assert.Equal("tokens_per_minute_exceeded", second.Refusal?.Code);
        Assert.Equal(1, second.Refusal?.RetryAfterSeconds); // only in flight: it may end soon

        lease!.Dispose();
        lease.Dispose(); // released once only
        Assert.Null(window.Admit(Tenant(1000), 10).Refusal);
    }
}
