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

    public static byte[] QuestionWav() => Bytes("audio", "question-tone-0.1s-16k-mono16.wav");
}
