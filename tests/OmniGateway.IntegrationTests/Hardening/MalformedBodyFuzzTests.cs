using System.Diagnostics;
using System.Net;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace OmniGateway.IntegrationTests.Hardening;

/// <summary>
/// Issue 9: a seeded run of 10 000 malformed bodies against the real gateway. Each generator produces a body
/// that is wrong by construction (broken JSON, invalid UTF-8, a case twin, a duplicate, a wrong type, an unknown
/// voice, background:true, too deep…), so every answer must be a 4xx error object and nothing may reach the upstream.
/// </summary>
public sealed class MalformedBodyFuzzTests(Xunit.Abstractions.ITestOutputHelper output) : GatewayTest
{
    private const int Seed = 90909;
    private const int Bodies = 10_000;

    // Refusals are logged at Information; ten thousand console lines would only time the console.
    protected override IDictionary<string, string?>? Settings => new Dictionary<string, string?> { ["Serilog:MinimumLevel:Default"] = "Warning" };

    private static readonly string[] Samples =
    [
        .. new[] { "text-only.json", "text-audio.json", "thinking.json", "stream-false.json", "inline-data-uri-wav.json" }.Select(Fixtures.Request).Select(s => s.Trim()),
        """{"model":"qwen3.5-omni-plus-all","input":[{"role":"user","content":[{"type":"text","text":"Describe"},{"type":"image_url","image_url":{"url":"https://example.com/cat.png"}}]}]}""",
    ];

    [Fact, Trait("Category", "Slow")]
    public async Task TenThousandMalformedBodies_AllGetA4xxErrorObject_AndNoneReachTheUpstream()
    {
        var random = new Random(Seed);
        var bodies = Enumerable.Range(0, Bodies).Select(i => Malformed(random, i)).ToArray();
        var failures = new System.Collections.Concurrent.ConcurrentQueue<string>();
        var clock = Stopwatch.StartNew();
        await Parallel.ForEachAsync(Enumerable.Range(0, Bodies), new ParallelOptions { MaxDegreeOfParallelism = 4 }, async (i, cancellationToken) =>
        {
            using var content = new ByteArrayContent(bodies[i].Body);
            content.Headers.ContentType = new System.Net.Http.Headers.MediaTypeHeaderValue("application/json");
            using var response = await Client.PostAsync("/v1/responses", content, cancellationToken);
            var text = await response.Content.ReadAsStringAsync(cancellationToken);
            var status = (int)response.StatusCode;
            if (status is < 400 or >= 500 || !IsErrorObject(text))
                failures.Enqueue($"#{i} ({bodies[i].Kind}) → {status}: {text[..Math.Min(200, text.Length)]}\n  body: {Encoding.UTF8.GetString(bodies[i].Body[..Math.Min(200, bodies[i].Body.Length)])}");
        });

        output.WriteLine($"{Bodies} malformed bodies in {clock.Elapsed.TotalSeconds:F1} s");
        Assert.True(failures.IsEmpty, $"{failures.Count} of {Bodies} bodies were not refused with a 4xx error object:\n" + string.Join("\n", failures.Take(5)));
        Assert.Empty(Upstream.Requests);
        Assert.True(clock.Elapsed < TimeSpan.FromMinutes(2), $"the fuzz run took {clock.Elapsed}"); // budget for a loaded CI machine
    }

    private static bool IsErrorObject(string text)
    {
        try
        {
            using var document = JsonDocument.Parse(text);
            var error = document.RootElement.GetProperty("error");
            return error.GetProperty("message").GetString() is { Length: > 0 } && error.GetProperty("code").GetString() is { Length: > 0 }
                   && error.GetProperty("type").GetString() is { Length: > 0 };
        }
        catch (Exception exception) when (exception is JsonException or KeyNotFoundException or InvalidOperationException)
        {
            return false;
        }
    }

    private static (string Kind, byte[] Body) Malformed(Random random, int i)
    {
        var sample = Samples[random.Next(Samples.Length)];
        var utf8 = Encoding.UTF8.GetBytes(sample);
        switch (i % 12)
        {
            case 0: // cut short: an object that never closes
                return ("truncated", utf8[..random.Next(utf8.Length - 1)]);
            case 1: // a byte that is never UTF-8
            {
                var bytes = (byte[])utf8.Clone();
                bytes[random.Next(bytes.Length)] = (byte)(0xF8 + random.Next(8));
                return ("invalid-utf8", bytes);
            }
            case 2:
                return ("case-twin", Mutate(random, sample, CaseTwin));
            case 3:
                return ("duplicate", Encoding.UTF8.GetBytes(sample[..^1] + ",\"model\":\"qwen3.5-omni-plus-all\"}"));
            case 4:
                return ("wrong-type", Mutate(random, sample, (r, root) => root["model"] = r.Next(3) switch { 0 => (JsonNode)42, 1 => new JsonArray(), _ => null }));
            case 5:
                return ("unknown-voice", Mutate(random, sample, (r, root) =>
                {
                    root["modalities"] = new JsonArray("text", "audio");
                    root["audio"] = new JsonObject { ["voice"] = "Voice" + r.Next(1_000_000) };
                }));
            case 6:
                return ("background", Mutate(random, sample, (r, root) => root["background"] = r.Next(2) == 0 ? (JsonNode)true : "yes"));
            case 7:
                return ("too-deep", Encoding.UTF8.GetBytes(sample[..^1] + ",\"x\":" + new string('[', 65 + random.Next(200)) + "}"));
            case 8: // not an object at all
                return ("not-object", Encoding.UTF8.GetBytes(random.Next(4) switch { 0 => "[]", 1 => "42", 2 => "\"" + sample.Replace("\"", "'", StringComparison.Ordinal) + "\"", _ => "null" }));
            case 9:
                return ("lone-surrogate", Encoding.UTF8.GetBytes(sample[..^1] + ",\"note\":\"\\ud" + (800 + random.Next(200)) + "\"}"));
            case 10: // random bytes, which are never a JSON object starting with '{' and ending with '}'
            {
                var bytes = new byte[1 + random.Next(300)];
                random.NextBytes(bytes);
                bytes[0] = (byte)'#';
                return ("garbage", bytes);
            }
            default:
                return ("bad-input", Mutate(random, sample, (r, root) => root["input"] = r.Next(4) switch
                {
                    0 => (JsonNode)"",
                    1 => new JsonArray(),
                    2 => new JsonArray(new JsonObject { ["role"] = "robot", ["content"] = "hi" }),
                    _ => new JsonArray(new JsonObject { ["role"] = "user", ["content"] = new JsonArray(new JsonObject { ["type"] = "input_hologram" }) }),
                }));
        }
    }

    private static byte[] Mutate(Random random, string sample, Action<Random, JsonObject> change)
    {
        var root = JsonNode.Parse(sample)!.AsObject();
        change(random, root);
        return Encoding.UTF8.GetBytes(root.ToJsonString());
    }

    /// <summary>A member of some object in the body gets a twin whose name differs only in letter case.</summary>
    private static void CaseTwin(Random random, JsonObject root)
    {
        var objects = new List<JsonObject>();
        void Collect(JsonNode? node)
        {
            if (node is JsonObject obj) { objects.Add(obj); foreach (var (_, child) in obj) Collect(child); }
            else if (node is JsonArray array) foreach (var child in array) Collect(child);
        }
        Collect(root);
        var target = objects.Where(o => o.Count > 0).ElementAt(random.Next(objects.Count(o => o.Count > 0)));
        var (name, value) = target.ElementAt(random.Next(target.Count));
        var twin = random.Next(3) switch
        {
            0 => name.ToUpperInvariant(),
            1 => char.ToUpperInvariant(name[0]) + name[1..],
            _ => name.Replace('k', '\u212A').Replace('s', '\u017F'),
        };
        if (twin == name) twin = string.Equals(name.ToUpperInvariant(), name, StringComparison.Ordinal) ? name.ToLowerInvariant() : name.ToUpperInvariant();
        if (twin == name) twin = "Model"; // a name without letters: twin the model instead
        if (twin == "Model" && !ReferenceEquals(target, root)) { root["Model"] = "some-other-model"; return; }
        target[twin] = value?.DeepClone() ?? "x";
    }
}
