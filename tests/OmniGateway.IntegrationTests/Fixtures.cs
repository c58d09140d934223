using System.Globalization;
using System.Text;
using System.Text.Json;

namespace OmniGateway.IntegrationTests;

/// <summary>The upstream's sample streams and requests (shared/upstream/streams), copied under tests/fixtures.</summary>
public static class Fixtures
{
    private static readonly string Root = Path.Combine(AppContext.BaseDirectory, "fixtures", "upstream");

    public static byte[] Stream(string name) => File.ReadAllBytes(Path.Combine(Root, name));

    public static string Request(string name) => File.ReadAllText(Path.Combine(Root, "requests", name));

    public static byte[] Audio(string name) => File.ReadAllBytes(Path.Combine(Root, "audio", name));

    public static JsonElement Expected(string stream)
    {
        using var document = JsonDocument.Parse(File.ReadAllBytes(Path.Combine(Root, "expected.json")));
        return document.RootElement.GetProperty("streams").GetProperty(stream).Clone();
    }

    /// <summary>The usage a sample stream reports, as expected.json gives it: what a record of it must hold.</summary>
    public static ExpectedUsage Usage(string stream) => ExpectedUsage.Of(Expected(stream));

    /// <summary>Splits a stream after each blank line (LF framing, as the samples use), keeping every byte.</summary>
    public static List<byte[]> SplitEvents(byte[] stream)
    {
        var events = new List<byte[]>();
        var start = 0;
        for (var i = 0; i + 1 < stream.Length; i++)
        {
            if (stream[i] == '\n' && stream[i + 1] == '\n')
            {
                events.Add(stream[start..(i + 2)]);
                start = i + 2;
                i++;
            }
        }
        if (start < stream.Length) events.Add(stream[start..]);
        return events;
    }

    public static string Utf8(byte[] bytes) => Encoding.UTF8.GetString(bytes);
}

/// <summary>A sample stream's token figures and response id (expected.json), also as the text a log property holds.</summary>
public sealed record ExpectedUsage(long InputTokens, long OutputTokens, long TotalTokens, string ResponseId)
{
    public static ExpectedUsage Of(JsonElement expected)
    {
        var usage = expected.GetProperty("usage");
        return new(usage.GetProperty("input_tokens").GetInt64(), usage.GetProperty("output_tokens").GetInt64(),
            usage.GetProperty("total_tokens").GetInt64(), expected.GetProperty("responseId").GetString()!);
    }

    public string Input => InputTokens.ToString(CultureInfo.InvariantCulture);
    public string Output => OutputTokens.ToString(CultureInfo.InvariantCulture);
    public string Total => TotalTokens.ToString(CultureInfo.InvariantCulture);
}
