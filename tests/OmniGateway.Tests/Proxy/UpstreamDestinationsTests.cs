using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;
using OmniGateway.Proxy;
using OmniGateway.Upstream;

namespace OmniGateway.Tests.Proxy;

/// <summary>The weighted picker, passive health and the start-up validation of <c>Upstream:Destinations</c>.</summary>
public sealed class UpstreamDestinationsTests
{
    private readonly FakeTimeProvider _time = new(DateTimeOffset.Parse("2026-12-01T00:00:00Z", System.Globalization.CultureInfo.InvariantCulture));

    private UpstreamDestinations Destinations(params int[] weights) => new(
        [.. weights.Select((w, i) => new UpstreamDestination(i, $"https://upstream-{i}.example", w, $"key-{i}", $"key-{i}"))],
        new UpstreamOptions { FailuresBeforeBackoff = 2, DestinationBackoff = TimeSpan.FromSeconds(30) }, _time, NullLogger.Instance);

    private static Dictionary<int, int> Spread(UpstreamDestinations destinations, int picks) =>
        Enumerable.Range(0, picks).Select(_ => destinations.Pick(0).Index).GroupBy(i => i).ToDictionary(g => g.Key, g => g.Count());

    [Fact]
    public void Picks_FollowTheWeights_Exactly_AndInterleaved()
    {
        var destinations = Destinations(5, 2, 1);
        var spread = Spread(destinations, 800);
        Assert.Equal((500, 200, 100), (spread[0], spread[1], spread[2]));

        // Smooth: the heavy destination does not take its five picks in a row.
        var window = Enumerable.Range(0, 8).Select(_ => destinations.Pick(0).Index).ToArray();
        Assert.Contains(1, window[..4]);
    }

    [Fact]
    public void ARefusedKey_TakesTheDestinationOut_UntilItsBackoffEnds_ThenOneMoreFailureDoublesIt()
    {
        var destinations = Destinations(1, 1);
        destinations.ReportKeyRefused(destinations.All[0], 401);

        Assert.Equal(10, Spread(destinations, 10)[1]);
        Assert.Equal(UpstreamDestinationState.Out, destinations.States()[0].State);
        Assert.Equal(30, destinations.States()[0].SecondsLeft);

        _time.Advance(TimeSpan.FromSeconds(31));
        Assert.Equal(UpstreamDestinationState.Failing, destinations.States()[0].State); // on probation
        Assert.Equal(5, Spread(destinations, 10).GetValueOrDefault(0));
        destinations.ReportFailure(destinations.All[0], "answered HTTP 503");
        Assert.Equal(60, destinations.States()[0].SecondsLeft);

        _time.Advance(TimeSpan.FromSeconds(61));
        Assert.Equal(UpstreamDestinationState.Failing, destinations.States()[0].State);
        destinations.ReportSuccess(destinations.All[0]);
        Assert.Equal(UpstreamDestinationState.Healthy, destinations.States()[0].State);
    }

    [Fact]
    public void FailuresMustComeInARow_AndA429sRetryAfterCanLengthenTheBackoff()
    {
        var destinations = Destinations(1, 1);
        var first = destinations.All[0];
        destinations.ReportFailure(first, "answered HTTP 503");
        destinations.ReportSuccess(first);
        destinations.ReportFailure(first, "answered HTTP 503");
        Assert.True(destinations.States()[0].InRotation);

        destinations.ReportFailure(first, "answered HTTP 429", retryAfter: TimeSpan.FromMinutes(2));
        Assert.Equal(120, destinations.States()[0].SecondsLeft);
    }

    [Fact]
    public void ACallAvoidsDestinationsItTried_AndWhenAllAreOutTheyAreStillUsed()
    {
        var destinations = Destinations(1, 1, 1);
        var tried = UpstreamDestinations.MarkTried(0, destinations.All[0]);
        tried = UpstreamDestinations.MarkTried(tried, destinations.All[1]);
        Assert.Equal(2, destinations.Pick(tried).Index);
        Assert.True(destinations.HasUntried(tried));

        foreach (var d in destinations.All) destinations.ReportKeyRefused(d, 403);
        Assert.False(destinations.HasUntried(0));
        Assert.Equal(3, Spread(destinations, 9).Count); // panic: every destination, rather than none
    }

    [Theory]
    [InlineData("Upstream:Destinations:0:BaseUrl", "not a url", "Upstream:Destinations:0:BaseUrl must be an absolute http(s) URL")]
    [InlineData("Upstream:Destinations:0:BaseUrl", "https://user:sk-secret@a.example", "Upstream:Destinations:0:BaseUrl must not carry user-info or a query string")]
    [InlineData("Upstream:Destinations:1:BaseUrl", "https://b.example/?key=sk-secret", "Upstream:Destinations:1:BaseUrl must not carry user-info or a query string")]
    [InlineData("Upstream:Destinations:0:ApiKey", null, "Upstream:Destinations:0 needs its upstream key")]
    [InlineData("Upstream:Destinations:0:ApiKeyFile", "/nonexistent/key", "Upstream:Destinations:0 sets both ApiKey and ApiKeyFile")]
    [InlineData("Upstream:Destinations:1:Weight", "0", "Upstream:Destinations:1:Weight must be a whole number from 1 to 1000")]
    [InlineData("Upstream:ApiKey", "sk-single", "Upstream:Destinations replaces it")]
    [InlineData("Upstream:MaxAttempts", "0", "Upstream:MaxAttempts must be between 1")]
    [InlineData("Upstream:RetryDeadline", "00:00:00", "Upstream:RetryDeadline must be a positive time span")]
    public void BadDestinations_StopStartUp_WithAMessageNamingTheKey(string key, string? value, string message)
    {
        var settings = new Dictionary<string, string?>
        {
            ["Upstream:Destinations:0:BaseUrl"] = "https://a.example",
            ["Upstream:Destinations:0:ApiKey"] = "key-a",
            ["Upstream:Destinations:1:BaseUrl"] = "https://b.example",
            ["Upstream:Destinations:1:ApiKey"] = "key-b",
            ["Upstream:Destinations:1:Weight"] = "3",
            [key] = value,
        };
        var options = new ConfigurationBuilder().AddInMemoryCollection(settings).Build()
            .GetSection("Upstream").Get<UpstreamOptions>()!;

        var result = new UpstreamOptionsValidator().Validate(null, options);

        Assert.True(result.Failed);
        Assert.Contains(result.Failures!, f => f.Contains(message, StringComparison.Ordinal));
    }

    [Fact]
    public void ValidDestinations_MakeTheGatewayLive_WithoutASingleKey()
    {
        var options = new UpstreamOptions { Destinations = [new() { BaseUrl = "https://a.example", ApiKey = "key-a", Weight = 2 }] };
        Assert.True(new UpstreamOptionsValidator().Validate(null, options).Succeeded);
        Assert.Equal(UpstreamMode.Live, options.EffectiveMode);
    }
}
