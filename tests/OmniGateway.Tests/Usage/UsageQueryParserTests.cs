using OmniGateway.Usage;

namespace OmniGateway.Tests.Usage;

public sealed class UsageQueryParserTests
{
    [Theory]
    [InlineData("yesterday", null, null, "from")]
    [InlineData("2026-05-01T25:00:00Z", null, null, "from")]
    [InlineData(null, "05/01/2026", null, "to")]
    [InlineData("2026-05-02", "2026-05-01", null, "to")]
    [InlineData("2026-05-01", "2026-05-01", null, "to")]
    [InlineData(null, null, "week", "granularity")]
    [InlineData(null, null, "minute", "granularity")]
    public void BadParameter_Is400NamingIt(string? from, string? to, string? granularity, string param)
    {
        UsageQueryParser.TryParse(null, null, from, to, granularity, null, null, out var query, out var error);
        Assert.Null(query);
        Assert.Equal((400, "invalid_request_error", param), (error!.Status, error.Type, error.Param));
    }

    [Theory]
    [InlineData("2026-05-01", "2026-05-01T00:00:00Z")]
    [InlineData("2026-05-01T10:30:00Z", "2026-05-01T10:30:00Z")]
    [InlineData("2026-05-01T12:30:00+02:00", "2026-05-01T10:30:00Z")]
    [InlineData("2026-05-01T12:30:00 02:00", "2026-05-01T10:30:00Z")] // '+' unencoded in a query string arrives as a space
    [InlineData("2026-05-01T10:30:00.250Z", "2026-05-01T10:30:00.25Z")]
    public void Instants_AreReadAsUtc(string value, string expected)
    {
        UsageQueryParser.TryParse(null, null, value, null, null, null, null, out var query, out var error);
        Assert.Null(error);
        Assert.Equal(DateTimeOffset.Parse(expected, System.Globalization.CultureInfo.InvariantCulture), query!.From);
        Assert.Equal(TimeSpan.Zero, query.From!.Value.Offset);
    }

    [Theory]
    [InlineData(null, UsageGranularity.Total)]
    [InlineData("total", UsageGranularity.Total)]
    [InlineData("day", UsageGranularity.Day)]
    [InlineData("HOUR", UsageGranularity.Hour)]
    public void Granularity_DefaultsToTotal(string? value, UsageGranularity expected)
    {
        UsageQueryParser.TryParse("t", "m", null, null, value, null, null, out var query, out _);
        Assert.Equal(expected, query!.Granularity);
    }
}
