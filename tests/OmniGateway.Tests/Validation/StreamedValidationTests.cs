using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using OmniGateway.Errors;
using OmniGateway.Validation;
using static OmniGateway.Tests.Validation.Bodies;

namespace OmniGateway.Tests.Validation;

/// <summary>
/// Issue 11, target 5: a streamed body is validated from what its scan settled as it arrived, and parsed without the
/// payload bytes the scan checked (<see cref="BodySkeleton"/>). Whatever the body, the verdict is the one the body
/// read whole gets: the same refusal, word for word, or the same request, down to its input estimate and what goes upstream.
/// </summary>
public sealed class StreamedValidationTests
{
    /// <summary>Under the shipped 10 MiB, so that the limit's edge is a few kilobytes of base64 here.</summary>
    private const int InlineLimit = 40_000;

    private static readonly RequestValidator Validator = new(TestCatalog.Load(new Dictionary<string, string?>
    {
        [$"Models:{TestCatalog.Model}:MaxInlineBase64Bytes"] = InlineLimit.ToString(System.Globalization.CultureInfo.InvariantCulture),
    }));

    /// <summary>A WAV of <paramref name="bytes"/> bytes: a RIFF…WAVE header, then noise.</summary>
    private static string WavOf(int bytes, int seed)
    {
        var wav = new byte[bytes];
        new Random(seed).NextBytes(wav);
        "RIFF"u8.CopyTo(wav);
        "WAVEfmt "u8.CopyTo(wav.AsSpan(8));
        return Convert.ToBase64String(wav);
    }

    private static readonly string LongWav = WavOf(24_000, 1); // 32 000 bytes of base64

    public static TheoryData<string, string> Bodies => new()
    {
        { "accepted, data URI", User(Text("What is this?"), Audio("data:audio/wav;base64," + LongWav, "wav")) },
        { "accepted, bare", User(Audio(LongWav, "wav"), Text("and this")) },
        { "accepted, with members after it", User(Audio(LongWav, "wav"))[..^1] + ",\"max_output_tokens\":300,\"metadata\":{\"project\":\"a\"},\"temperature\":0.5}" },
        { "accepted, two payloads", Req($"[{{\"role\":\"user\",\"content\":[{Audio(LongWav, "wav")}]}},{{\"role\":\"user\",\"content\":[{Image("data:image/png;base64," + LongWav)}]}}]") },
        { "accepted, video", User(Text("clip"), $$"""{"type":"video_url","video_url":"data:video/mp4;base64,{{LongWav}}"}""") },
        { "accepted, just under the limit", User(Audio(WavOf(InlineLimit / 4 * 3 - 3, 2), "wav")) },
        { "refused, at the limit", User(Audio(WavOf(InlineLimit / 4 * 3, 2), "wav")) },
        { "refused, far over the limit", User(Audio(WavOf(90_000, 3), "wav")) },
        { "refused, a byte outside the alphabet mid-way", User(Audio(LongWav.Insert(20_000, "*"), "wav")) },
        { "refused, padding mid-way", User(Audio(LongWav.Insert(20_000, "="), "wav")) },
        { "refused, one byte too many", User(Audio(LongWav + "A", "wav")) },
        { "refused, not WAV", User(Audio(LongWav[8..], "wav")) },
        { "refused, declared FLAC", User(Audio(LongWav, "flac")) },
        { "refused, an image without a data: header", User(Image(LongWav)) },
        { "refused, a bad data: URI", User(Audio("data:audio/wav," + LongWav, "wav")) },
        { "accepted, a URL: nothing left out", User(Audio("http://" + LongWav, "wav")) },
        { "refused, duplicate member after the payload", User(Audio(LongWav, "wav"))[..^1] + ",\"input\":\"again\"}" },
        { "refused, case twin after the payload", User(Audio(LongWav, "wav"))[..^1] + ",\"Input\":[]}" },
        { "refused, an assistant's audio", Req($"[{{\"role\":\"assistant\",\"content\":[{Audio(LongWav, "wav")}]}}]") },
        { "refused, unknown voice", User(Audio(LongWav, "wav"))[..^1] + ",\"audio\":{\"voice\":\"Nobody\"}}" },
        // Bodies that are not JSON where the scan has stopped or has not: the parser has the last word.
        { "invalid, unclosed object", User(Audio(LongWav, "wav"))[..^1] },
        { "invalid, a raw newline in the payload", User(Audio(LongWav, "wav")).Replace(LongWav[..100], LongWav[..99] + "\n", StringComparison.Ordinal) },
        { "invalid, trailing garbage", User(Audio(LongWav, "wav")) + "x" },
        { "invalid, a missing comma after the payload", User(Audio(LongWav, "wav")).Replace("\",\"format\"", "\" \"format\"", StringComparison.Ordinal) },
    };

    [Theory, MemberData(nameof(Bodies))]
    public void StreamedBody_GetsTheVerdictOfTheBodyReadWhole(string label, string text)
    {
        var body = Encoding.UTF8.GetBytes(text);
        var scan = Scan(body);
        var accepted = label.StartsWith("accepted", StringComparison.Ordinal);
        if (accepted && !label.EndsWith("nothing left out", StringComparison.Ordinal))
            Assert.True(scan.AlphabetRuns(body).Any(), $"{label}: nothing was left out of the parse, so this case tests nothing");
        Assert.Equal(accepted, AssertSameVerdict(label, body, scan));
    }

    [Fact]
    public void RandomEditsOfALongPayloadBody_StreamedOrWhole_SameVerdict()
    {
        var random = new Random(20261204);
        const string alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/= *\"\\:,{}[]\n";
        var template = User(Text("hi"), Audio("data:audio/wav;base64," + LongWav, "wav"))[..^1] + ",\"max_output_tokens\":64}";
        var (accepted, leftOut) = (0, 0);
        for (var n = 0; n < 200; n++)
        {
            var text = new StringBuilder(template);
            for (var edits = random.Next(0, 3); edits > 0; edits--)
                text[random.Next(text.Length)] = alphabet[random.Next(alphabet.Length)];
            var body = Encoding.UTF8.GetBytes(text.ToString());
            var scan = Scan(body, random);
            if (scan.AlphabetRuns(body).Any()) leftOut++;
            if (AssertSameVerdict($"case {n}", body, scan)) accepted++;
        }
        Assert.True(accepted > 50 && leftOut > 100, $"{accepted} of 200 accepted, {leftOut} parsed from a skeleton: the edits left too little to compare");
    }

    [Fact]
    public void Skeleton_IsTheBodyWithoutItsRuns_AndGivesBackTheLengthsOfTheStringsInIt()
    {
        var first = WavOf(30_000, 4);
        var second = WavOf(9_000, 5);
        var text = Req($"[{{\"role\":\"user\",\"content\":[{Audio("data:audio/wav;base64," + first, "wav")},{Image("data:image/png;base64," + second)}]}}]");
        var body = Encoding.UTF8.GetBytes(text);
        var scan = Scan(body);
        var runs = scan.AlphabetRuns(body).ToArray();
        Assert.Equal(2, runs.Length);

        using var skeleton = BodySkeleton.Of(body, scan)!;
        var expected = body[..runs[0].From].Concat(body[(runs[0].From + runs[0].Length)..runs[1].From]).Concat(body[(runs[1].From + runs[1].Length)..]);
        Assert.Equal(expected, skeleton.Memory.ToArray());
        Assert.Equal(body.Length - runs[0].Length - runs[1].Length, skeleton.Memory.Length);

        using var document = JsonDocument.Parse(skeleton.Memory);
        var content = document.RootElement.GetProperty("input")[0].GetProperty("content");
        var audio = System.Runtime.InteropServices.JsonMarshal.GetRawUtf8Value(content[0].GetProperty("input_audio").GetProperty("data"));
        var image = System.Runtime.InteropServices.JsonMarshal.GetRawUtf8Value(content[1].GetProperty("image_url").GetProperty("url"));
        Assert.Equal(("data:audio/wav;base64,".Length + first.Length + 2, "data:image/png;base64,".Length + second.Length + 2),
            (skeleton.Length(audio), skeleton.Length(image)));
        Assert.Equal(first.Length, skeleton.Length(audio[("data:audio/wav;base64,".Length + 1)..^1]));
        Assert.Equal(5, skeleton.Length(audio[1..6])); // "data:": nothing left out inside
        Assert.Equal(4, skeleton.Length("abcd"u8)); // not of the skeleton at all
    }

    /// <summary>The body fed to a scan as the reader hands it over: in reads of Kestrel's 16 KiB blocks, or at random cuts.</summary>
    private static ForwardableMembers Scan(byte[] body, Random? cuts = null)
    {
        var scan = new ForwardableMembers();
        for (var length = 0; length < body.Length;)
        {
            length = Math.Min(body.Length, length + (cuts is null ? 16 * 1024 : cuts.Next(1, 9000)));
            scan.Scan(body.AsSpan(0, length));
        }
        return scan;
    }

    /// <returns>Whether the body was accepted.</returns>
    private static bool AssertSameVerdict(string label, byte[] body, ForwardableMembers scan)
    {
        var whole = Validator.Validate(body, TestCatalog.AnyModelTenant, "team=b").Sides();
        var streamed = Validator.Validate(body, TestCatalog.AnyModelTenant, "team=b", scan).Sides();
        try
        {
            if (whole.Error is { } error)
            {
                Assert.True(streamed.Error is not null, $"{label}: refused whole ({error.Code}), accepted streamed");
                Assert.Equal(Describe(error), Describe(streamed.Error));
                return false;
            }
            Assert.True(streamed.Error is null, $"{label}: accepted whole, refused streamed: {streamed.Error?.Code} {streamed.Error?.Message}");
            var (a, b) = (whole.Value!, streamed.Value!);
            Assert.Equal((a.Model.Id, a.ClientWantsStream, a.WantsAudio, a.Voice, a.InputTokenEstimate, a.MaxOutputTokens),
                (b.Model.Id, b.ClientWantsStream, b.WantsAudio, b.Voice, b.InputTokenEstimate, b.MaxOutputTokens));
            Assert.Equal(a.Tags, b.Tags);
            // What the upstream is sent: the members sent ahead, then the rest, make the object sent whole.
            var sent = b.UpstreamBodyIsRest ? Reassembled(body, scan, b.UpstreamBody.ToArray()) : b.UpstreamBody.ToArray();
            Assert.True(JsonNode.DeepEquals(JsonNode.Parse(a.UpstreamBody.Span), JsonNode.Parse(sent)), $"{label}: a different body goes upstream");
            return true;
        }
        finally
        {
            whole.Value?.BodyBuffer?.Dispose();
            streamed.Value?.BodyBuffer?.Dispose();
        }
    }

    private static string Describe(GatewayError? error) => $"{error?.Status} {error?.Code} {error?.Param}: {error?.Message}";

    private static byte[] Reassembled(byte[] body, ForwardableMembers scan, byte[] rest)
    {
        var joined = new List<byte> { (byte)'{' };
        for (var i = 0; i < scan.Count; i++)
        {
            if (i > 0) joined.Add((byte)',');
            joined.AddRange(body[scan[i].Start..scan[i].End]);
        }
        if (scan.Count > 0 && rest.Length > 2) joined.Add((byte)',');
        joined.AddRange(rest[1..]);
        return [.. joined];
    }
}
