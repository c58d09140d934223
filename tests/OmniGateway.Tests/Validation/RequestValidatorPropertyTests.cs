using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using OmniGateway.Errors;
using OmniGateway.Validation;

namespace OmniGateway.Tests.Validation;

/// <summary>
/// Whatever a caller sends, the validator answers: a 400/413 error or a request, never an exception
/// (which would surface as a 500, a gateway bug by contract 4).
/// </summary>
public sealed class RequestValidatorPropertyTests
{
    private const int Seed = 20260417;
    private static readonly RequestValidator Validator = new(TestCatalog.Load());
    private static readonly byte[][] Samples = [.. Fixtures.RequestFiles().Select(File.ReadAllBytes)];

    [Fact]
    public void RandomMutationsOfSampleRequests_NeverThrow()
    {
        var random = new Random(Seed);
        var failures = new List<string>();
        int accepted = 0, refused = 0;
        for (var i = 0; i < 1500; i++)
        {
            var sample = Samples[random.Next(Samples.Length)];
            var body = (i % 4) switch
            {
                0 => sample[..random.Next(sample.Length)],
                1 => MutateBytes(random, sample),
                2 => MutateTree(random, sample),
                _ => Encoding.UTF8.GetBytes(RandomValue(random, depth: 0)?.ToJsonString() ?? "null"),
            };
            if (Check(body, failures, $"case {i}") is { } wasAccepted)
            {
                if (wasAccepted) accepted++; else refused++;
            }
        }
        Assert.True(failures.Count == 0, string.Join("\n\n", failures.Take(5)));
        // Both answers must have been exercised, or the generator is not testing much.
        Assert.True(accepted >= 50 && refused >= 500, $"accepted {accepted}, refused {refused}");
    }

    [Fact]
    public void EveryFieldOfEverySampleReplacedByEveryKindOfValue_NeverThrows()
    {
        var random = new Random(Seed);
        var failures = new List<string>();
        var cases = 0;
        foreach (var sample in Samples)
        {
            var pathCount = Slots(JsonNode.Parse(sample)!).Count; // the samples are JSON objects
            for (var slot = 0; slot < pathCount; slot++)
            {
                foreach (var replacement in Replacements(random))
                {
                    var root = JsonNode.Parse(sample)!;
                    var (parent, key, index) = Slots(root)[slot];
                    if (key is not null) parent.AsObject()[key] = replacement?.DeepClone();
                    else parent.AsArray()[index] = replacement?.DeepClone();
                    Check(Encoding.UTF8.GetBytes(root.ToJsonString()), failures, $"slot {slot} = {replacement?.ToJsonString() ?? "null"}");
                    cases++;
                }
            }
        }
        Assert.True(failures.Count == 0, string.Join("\n\n", failures.Take(5)));
        Assert.True(cases >= 200, $"only {cases} cases");
    }

    /// <summary>True when accepted, false when refused, null when the contract was broken (recorded in failures).</summary>
    private static bool? Check(byte[] body, List<string> failures, string label)
    {
        (ValidatedRequest? Value, GatewayError? Error) outcome;
        try
        {
            outcome = Validator.Validate(body, TestCatalog.AnyModelTenant).Sides();
        }
        catch (Exception exception)
        {
            failures.Add($"{label}: {exception.GetType().Name}: {exception.Message}\n{Preview(body)}");
            return null;
        }
        if ((outcome.Value is null) == (outcome.Error is null))
        {
            failures.Add($"{label}: outcome must hold exactly one of request and error\n{Preview(body)}");
            return null;
        }
        if (outcome.Error is { } error)
        {
            if (error.Status is not (400 or 413) || error.Type != "invalid_request_error" || string.IsNullOrEmpty(error.Code))
                failures.Add($"{label}: unexpected error {error.Status} {error.Type} {error.Code}\n{Preview(body)}");
            return false;
        }
        using var sent = JsonDocument.Parse(outcome.Value!.UpstreamBody); // checked above: a request when no error
        if (!sent.RootElement.TryGetProperty("stream", out var stream) || stream.ValueKind != JsonValueKind.True)
            failures.Add($"{label}: accepted body not forwarded with stream:true\n{Preview(body)}");
        return true;
    }

    private static byte[] MutateBytes(Random random, byte[] sample)
    {
        var bytes = new List<byte>(sample);
        for (var edits = random.Next(1, 6); edits > 0 && bytes.Count > 0; edits--)
        {
            var at = random.Next(bytes.Count);
            switch (random.Next(3))
            {
                case 0: bytes[at] = Interesting[random.Next(Interesting.Length)]; break;
                case 1: bytes.Insert(at, Interesting[random.Next(Interesting.Length)]); break;
                default: bytes.RemoveAt(at); break;
            }
        }
        return [.. bytes];
    }

    private static readonly byte[] Interesting = [.. "{}[]\",:\\0123456789aeltnru- \r\n+/=ÿ"u8, 0x00, 0x80, 0xC3, 0xE2, 0xF0, 0xFF];

    private static byte[] MutateTree(Random random, byte[] sample)
    {
        var root = JsonNode.Parse(sample)!; // the samples are JSON objects
        for (var edits = random.Next(1, 4); edits > 0; edits--)
        {
            var slots = Slots(root);
            if (slots.Count == 0) break;
            var (parent, key, index) = slots[random.Next(slots.Count)];
            var remove = random.Next(4) == 0;
            if (key is not null)
            {
                if (remove) parent.AsObject().Remove(key);
                else parent.AsObject()[key] = RandomValue(random, depth: 0);
            }
            else if (remove) parent.AsArray().RemoveAt(index);
            else parent.AsArray()[index] = RandomValue(random, depth: 0);
        }
        return Encoding.UTF8.GetBytes(root.ToJsonString());
    }

    /// <summary>Every member and array item under <paramref name="root"/>, depth first.</summary>
    private static List<(JsonNode Parent, string? Key, int Index)> Slots(JsonNode root)
    {
        var slots = new List<(JsonNode, string?, int)>();
        void Walk(JsonNode? node)
        {
            switch (node)
            {
                case JsonObject obj:
                    foreach (var (name, child) in obj.ToList()) { slots.Add((obj, name, -1)); Walk(child); }
                    break;
                case JsonArray array:
                    for (var i = 0; i < array.Count; i++) { slots.Add((array, null, i)); Walk(array[i]); }
                    break;
            }
        }
        Walk(root);
        return slots;
    }

    private static readonly string[] Words =
    [
        "", "text", "audio", "user", "assistant", "system", "tool", "input_text", "input_audio", "image_url", "input_image",
        "video_url", "output_text", "wav", "mp3", "flac", "Tina", "tina", "Tinna", "eliška", TestCatalog.Model, "https://example.com/a.wav",
        "http://", "ftp://x/y", "data:", "data:;base64,", "data:;base64,UklGRg==", "data:image/png;base64,@@", "UklGRiQAAABXQVZF",
        "fLaC", "AAAA", "====", "\u0000", "🎉", "\ud800", new string('A', 4097),
    ];

    private static JsonNode? RandomValue(Random random, int depth) => random.Next(depth > 3 ? 5 : 8) switch
    {
        0 => null,
        1 => JsonValue.Create(random.Next(2) == 0),
        2 => JsonValue.Create(random.Next(4) switch { 0 => 0, 1 => -1, 2 => random.Next(), _ => long.MaxValue }),
        3 => JsonValue.Create(random.NextDouble() * 1e300),
        4 => JsonValue.Create(Words[random.Next(Words.Length)]),
        5 => new JsonArray([.. Enumerable.Range(0, random.Next(4)).Select(_ => RandomValue(random, depth + 1))]),
        6 => new JsonObject(Enumerable.Range(0, random.Next(4)).Select(i =>
            KeyValuePair.Create(random.Next(2) == 0 ? Words[random.Next(Words.Length)] + i : RandomKey(random, i), RandomValue(random, depth + 1)))),
        _ => JsonNode.Parse(Samples[random.Next(Samples.Length)]),
    };

    private static string RandomKey(Random random, int i) =>
        new[] { "type", "text", "role", "content", "input_audio", "data", "format", "url", "image_url", "video_url", "voice" }[random.Next(11)] + (i == 0 ? "" : i.ToString());

    private static IEnumerable<JsonNode?> Replacements(Random random)
    {
        yield return null;
        yield return JsonValue.Create(true);
        yield return JsonValue.Create(0);
        yield return JsonValue.Create(-1.5);
        yield return JsonValue.Create("");
        yield return JsonValue.Create("text");
        yield return JsonValue.Create("audio");
        yield return JsonValue.Create("data:;base64,");
        yield return JsonValue.Create("http://");
        yield return new JsonArray();
        yield return new JsonArray(JsonValue.Create(1), null, new JsonArray());
        yield return new JsonObject();
        yield return new JsonObject { ["type"] = 1, ["url"] = new JsonArray() };
        yield return RandomValue(random, depth: 0);
    }

    private static string Preview(byte[] body) => Encoding.UTF8.GetString(body.AsSpan(0, Math.Min(body.Length, 600)));
}
