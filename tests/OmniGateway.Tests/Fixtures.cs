using System.Text.Json;

namespace OmniGateway.Tests;

/// <summary>The upstream samples, as copied next to the test assembly (tests/fixtures → fixtures).</summary>
internal static class Fixtures
{
    public static string Upstream(params string[] parts) =>
        Path.Combine([AppContext.BaseDirectory, "fixtures", "upstream", .. parts]);

    public static byte[] Bytes(params string[] parts) => File.ReadAllBytes(Upstream(parts));

    public static IEnumerable<string> RequestFiles() =>
        Directory.EnumerateFiles(Upstream("requests"), "*.json").Order(StringComparer.Ordinal);

    public static IEnumerable<string> StreamFiles() =>
        Directory.EnumerateFiles(Upstream(), "*.sse").Select(Path.GetFileName).OfType<string>().Order(StringComparer.Ordinal);

    /// <summary>The token figures and response id a sample stream reports, as expected.json gives them.</summary>
    public static (long InputTokens, long OutputTokens, long TotalTokens, string ResponseId) Expected(string stream)
    {
        using var document = JsonDocument.Parse(Bytes("expected.json"));
        var expected = document.RootElement.GetProperty("streams").GetProperty(stream);
        var usage = expected.GetProperty("usage");
        return (usage.GetProperty("input_tokens").GetInt64(), usage.GetProperty("output_tokens").GetInt64(),
            usage.GetProperty("total_tokens").GetInt64(), expected.GetProperty("responseId").GetString()!);
    }

    public static byte[] QuestionWav() => Bytes("audio", "question-tone-0.1s-16k-mono16.wav");
}
