using System.Buffers;
using System.Globalization;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using OmniGateway.Validation;
using Segment = OmniGateway.Validation.ForwardableMembers.Segment;

namespace OmniGateway.Tests.Validation;

/// <summary>
/// Issue 11, target 5: the members of a body still arriving that go upstream before it is validated. Whatever the
/// bytes and however they arrive, what is sent ahead (<c>{</c> and the segments joined by <c>,</c>) never closes the
/// object, so the upstream never holds a whole body it would bill; and once a valid body is in, that and the members
/// not sent make the same object again.
/// </summary>
public sealed class ForwardableMembersTests
{
    private const int Seed = 20260611;

    /// <summary>How step 4 parses the body.</summary>
    private static readonly JsonDocumentOptions Strict = new() { MaxDepth = 64, AllowDuplicateProperties = false };

    /// <summary>How an upstream might parse what it was sent: any depth, duplicates allowed. Still strict JSON grammar.</summary>
    private static readonly JsonDocumentOptions Upstream = new() { MaxDepth = 100_000 };

    private static readonly JsonWriterOptions Relaxed = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    /// <summary>
    /// The usual shape: model, an array input with nested messages, escapes, UTF-8, every kind of scalar, the members
    /// the enricher rewrites, escaped names, whitespace and newlines between tokens.
    /// </summary>
    private static readonly string Realistic = $$$"""
    {
      "model": "{{{TestCatalog.Model}}}",
      "input": [
        {"role": "system", "content": [{"type": "input_text", "text": "Say \"hi\" to C:\\Users\\caf\u00e9 — héllo wörld 日本語 😀"}]},
        {"role": "user", "content": [
            {"type":"input_text","text":"brackets in text: [ { } ] , : \\\" \/ \b\f\n\r\t \ud83d\ude00 \\"},
            {"type":"input_audio","input_audio":{"data":"UklGRiQAAABXQVZFZm10IBAAAAABAAEAgD4AAAB9AAACABAAZGF0YQAAAAA=","format":"wav"}}
          ],
          "extra": [[1, -2.5e-3, 0, 1E+400, true, false, null], {"deep": {"deeper": [{}, [], "}", "]", "\"]}"]}}, "", "\\\\"]
        },
        {"role":"assistant","content":"日本語の\"テキスト\"…"}
      ],
      "stream" : true,
      "stream_options": {"include_usage": false},
      "modalities": ["text", "audio"],
      "audio": {"voice": "Tina", "format": "wav"},
      "max_output_tokens": 1024,
      "metadata": {"team": "a\"b", "n": "12", "nested": {"x": [null]}},
      "temperature": 0.7,
      "enable_thinking": false,
      "tools": null,
      "user\u005fid": "escaped name",
      "h\u00e9llo": 1,
      "wörld": -0
    }

    """;

    public static TheoryData<string> RealisticBodies => new()
    {
        Realistic,
        // A plain string input, which the enricher rewrites into a message array.
        """{"model":"m","input":"héllo \"wörld\" 日本語 😀 \\ \u00e9 {not json}","stream":false,"metadata":{}}""",
        // Escaped names (one decodes to "model"), a name holding an escaped backslash.
        """{"mod\u0065l":"qwen","input":[{"role":"user","content":"x"}],"meta\\data":{"a":1},"ok":[]}""",
        // Every scalar kind, the last one right against the closing brace.
        """{"a":true,"b":false,"c":null,"d":-0.5E+10,"e":"","f":[],"g":{},"h":12}""",
        // Whitespace everywhere JSON allows it, including before and after the object.
        "\r\n\t {\n \"model\"\t:\r\n\"m\" ,\n \"input\" : [ 1 , { \"a\" : [ ] } ] , \"n\" : 1 \n, \"t\" :true\t}\n ",
        "{}",
        " { } ",
        // Nothing forwardable: everything goes in the rest.
        """{"stream":true,"input":"hi","audio":{"voice":"Tina"},"max_output_tokens":5}""",
        // Everything forwardable: the rest is empty.
        """{"model":"m","input":[1,2,3]}""",
    };

    [Theory, MemberData(nameof(RealisticBodies))]
    public void Scan_RealisticBodyFedWholeByteByByteOrInTwoAtAnySplit_SameSegmentsAndReassemblesToTheSameObject(string text)
    {
        var body = Encoding.UTF8.GetBytes(text);
        var whole = Feed(body, [body.Length]);
        Assert.True(whole.Members.EndsOnMemberBoundary);
        Assert.True(whole.Members.KnownValidUtf8);
        Assert.False(whole.Members.LastIsOpen);
        AssertReassembles(body, whole.Members);

        var byteByByte = Feed(body, Enumerable.Range(1, body.Length));
        AssertSameScan(whole, byteByByte, body, "one byte at a time");

        for (var split = 0; split <= body.Length; split++)
        {
            var two = Feed(body, [split, body.Length]);
            AssertSameScan(whole, two, body, $"split at {split}");
        }
    }

    [Fact]
    public void Scan_RealisticBody_ForwardsModelInputAndUnknownMembersOnly()
    {
        var body = Encoding.UTF8.GetBytes(Realistic);
        var members = Feed(body, [body.Length]).Members;
        string[] forwarded = ["model", "input", "metadata", "temperature", "enable_thinking", "tools", "wörld"];
        Assert.Equal(forwarded, Names(body, members));
        foreach (var name in new[] { "stream", "stream_options", "modalities", "audio", "max_output_tokens", "user\\u005fid", "h\\u00e9llo" })
            Assert.False(members.Forwarded(body, Encoding.UTF8.GetBytes(name)), name);
    }

    public static TheoryData<string, string, bool> MemberCases => new()
    {
        { "\"model\"", "\"m\"", true },
        { "\"input\"", "[{\"role\":\"user\",\"content\":\"hi\"}]", true },
        { "\"input\"", " [ ] ", true },
        { "\"input\"", "{\"a\":1}", true },
        { "\"input\"", "null", true },
        { "\"input\"", "\"hi\"", false },
        { "\"input\"", " \n\"hi\"", false },
        { "\"stream\"", "true", false },
        { "\"stream\"", "\"yes\"", false },
        { "\"stream_options\"", "{\"include_usage\":true}", false },
        { "\"modalities\"", "[\"text\"]", false },
        { "\"audio\"", "{\"voice\":\"Tina\"}", false },
        { "\"max_output_tokens\"", "100", false },
        { "\"mod\\u0065l\"", "\"m\"", false },
        { "\"stre\\u0061m\"", "true", false },
        { "\"a\\\\b\"", "1", false },
        { "\"a\\\"b\"", "1", false },
        { "\"metadata\"", "{\"k\":\"v\"}", true },
        { "\"Stream\"", "true", true }, // names are compared as bytes: a case twin is for the validator to refuse
        { "\"\"", "1", true },
        { "\"日本語\"", "\"😀\"", true },
    };

    [Theory, MemberData(nameof(MemberCases))]
    public void Forwarded_ArrayInputAndUnknownMembers_RewrittenMembersStringInputAndEscapedNamesNot(string name, string value, bool expected)
    {
        var member = name + " : " + value;
        var body = Encoding.UTF8.GetBytes("{\"first\":1, " + member + " ,\"last\":[2]}");
        var rawName = Encoding.UTF8.GetBytes(name[1..^1]);
        foreach (var feeding in new[] { Feed(body, [body.Length]), Feed(body, Enumerable.Range(1, body.Length)) })
        {
            var members = feeding.Members;
            Assert.Equal(expected, members.Forwarded(body, rawName));
            Assert.True(members.Forwarded(body, "first"u8));
            Assert.True(members.Forwarded(body, "last"u8));
            Assert.Equal(expected ? 3 : 2, members.Count);
            if (expected) Assert.Equal(member.TrimEnd(), Encoding.UTF8.GetString(Bytes(body, members[1])));
            Assert.True(members.EndsOnMemberBoundary);
            AssertReassembles(body, members);
        }
    }

    [Fact]
    public void Segments_SpanNameToValueEnd_WithoutTheWhitespaceAfter()
    {
        var body = "{ \"model\" :\t\"m\" , \"input\" :[1, [2]]\n, \"n\": -1.5 }"u8.ToArray();
        var members = Feed(body, [body.Length]).Members;
        Assert.Equal(["\"model\" :\t\"m\"", "\"input\" :[1, [2]]", "\"n\": -1.5"], Enumerable.Range(0, members.Count).Select(i => Encoding.UTF8.GetString(Bytes(body, members[i]))));
        Assert.Equal(new Segment(2, 9, 15), members[0]);
    }

    [Fact]
    public void RandomObjectsAndCorruptions_FedInRandomChunks_NeverForwardAClosedObjectAndValidOnesReassemble()
    {
        var random = new Random(Seed);
        int valid = 0, invalid = 0, forwardedSome = 0;
        for (var i = 0; i < 400; i++)
        {
            var original = Encoding.UTF8.GetBytes(RandomObject(random));
            var (body, kind) = (i % 5) switch
            {
                0 or 1 => (original, "valid"),
                2 => (original[..random.Next(original.Length)], "truncated"),
                _ => (Corrupt(random, original), "corrupted"),
            };
            var label = $"case {i} ({kind}): {Preview(body)}";
            var whole = Feed(body, [body.Length], label);
            var chunked = Feed(body, Chunks(random, body.Length), label);
            var bytewise = i % 10 == 0 ? Feed(body, Enumerable.Range(0, body.Length + 1), label) : null;

            Assert.True(System.Text.Unicode.Utf8.IsValid(body) == whole.Members.KnownValidUtf8, $"KnownValidUtf8 one-shot, {label}");
            Assert.True(System.Text.Unicode.Utf8.IsValid(body) == chunked.Members.KnownValidUtf8, $"KnownValidUtf8 chunked, {label}");
            if (whole.Members.Count > 0) forwardedSome++;

            if (Judge(body) is { } document)
            {
                using (document)
                {
                    valid++;
                    AssertSameScan(whole, chunked, body, label);
                    if (bytewise is not null) AssertSameScan(whole, bytewise, body, label);
                    if (document.RootElement.ValueKind != JsonValueKind.Object) continue;
                    Assert.True(whole.Members.EndsOnMemberBoundary, $"a valid body ends on a member boundary, {label}");
                    Assert.True(whole.Members.KnownFreeOfEscapes == (body.AsSpan().IndexOf((byte)'\\') < 0), $"KnownFreeOfEscapes, {label}");
                    foreach (var property in document.RootElement.EnumerateObject())
                    {
                        var rawName = JsonMarshal.GetRawUtf8PropertyName(property);
                        var expected = rawName.IndexOf((byte)'\\') < 0 && !RequestEnricher.Rewrites(rawName, JsonMarshal.GetRawUtf8Value(property.Value)[0]);
                        Assert.True(expected == whole.Members.Forwarded(body, rawName), $"member {Encoding.UTF8.GetString(rawName)} forwarded: expected {expected}, {label}");
                    }
                    AssertReassembles(body, whole.Members, label);
                }
            }
            else
            {
                invalid++;
                if (kind == "truncated") AssertSameScan(whole, chunked, body, label); // a prefix of a valid body: nothing stops the scan
                else AssertSameUpToTheStop(whole, chunked, body, label);
                if (bytewise is not null) AssertSameUpToTheStop(whole, bytewise, body, label);
                if (kind == "truncated")
                    Assert.False(whole.Members.EndsOnMemberBoundary || whole.Members.KnownFreeOfEscapes, $"a truncated body is not on a boundary, {label}");
            }
        }
        Assert.True(valid >= 150 && invalid >= 150 && forwardedSome >= 200, $"valid {valid}, invalid {invalid}, forwarded some {forwardedSome}");
    }

    public static TheoryData<string, int> MismatchedBrackets => new()
    {
        { """{"model":"m","input":[1}""", 2 },
        { """{"model":"m","input":[1},"x":2}""", 2 },
        { """{"model":"m","input":{"a":[1}}}""", 2 },
        { """{"model":"m","input":[{"a":1]]}""", 2 },
        { """{"input":[[{}]}]}""", 1 },
        { """{"model":"m","input":[1]]}""", 2 }, // the array closed, then a bracket where a separator belongs
        { """{"model":"m"]}""", 1 },
        { """{"model":1]}""", 1 },
        { """{"model":"m" "input":[]}""", 1 },
    };

    [Theory, MemberData(nameof(MismatchedBrackets))]
    public void Scan_MismatchedBracketsInAForwardedValue_LeavesTheLastSegmentOpen(string text, int count)
    {
        var body = Encoding.UTF8.GetBytes(text);
        foreach (var feeding in new[] { Feed(body, [body.Length]), Feed(body, Enumerable.Range(1, body.Length)) })
        {
            Assert.Equal(count, feeding.Members.Count);
            Assert.True(feeding.Members.LastIsOpen);
            Assert.False(feeding.Members.EndsOnMemberBoundary);
            Assert.False(feeding.Members.KnownFreeOfEscapes);
        }
        Assert.Null(TryParse(body, Upstream));
    }

    [Theory]
    [InlineData("""{"model":"m","input":[/*"*/]}""")]
    [InlineData("""{"model":"m","input":[{'a':'}'}]}""")]
    [InlineData("{\"model\":\"m\",\"input\":[1//\"\n]}")]
    public void Scan_CommentOrSingleQuoteOutsideAString_StopsThere_SoALenientUpstreamParserNeverSeesTheObjectClose(string text)
    {
        // Not JSON, so the validator refuses it; until then a parser that allows comments or single quotes must not be
        // handed a prefix it reads as a whole object.
        var body = Encoding.UTF8.GetBytes(text);
        foreach (var feeding in new[] { Feed(body, [body.Length]), Feed(body, Enumerable.Range(1, body.Length)) })
        {
            Assert.True(feeding.Members.LastIsOpen);
            var prefix = ForwardedPrefix(body, feeding.Members);
            Assert.DoesNotContain((byte)'/', prefix);
            Assert.DoesNotContain((byte)'\'', prefix);
            Assert.ThrowsAny<JsonException>(() => JsonDocument.Parse(prefix, new JsonDocumentOptions { CommentHandling = JsonCommentHandling.Skip, AllowTrailingCommas = true }));
        }
    }

    [Fact]
    public void Scan_StopInsideAForwardedMember_KeepsOnlyWhatEarlierReadsHadReached()
    {
        // Bytes scanned by an earlier read may have been sent already; nothing from the read that found the fault is added.
        var body = """{"model":"m","input":[1}"""u8.ToArray();
        var whole = Feed(body, [body.Length]).Members;
        var bytewise = Feed(body, Enumerable.Range(1, body.Length)).Members;
        var split = Feed(body, [22, body.Length]).Members;
        Assert.Equal("\"input\":", Encoding.UTF8.GetString(Bytes(body, whole[1])));
        Assert.Equal("\"input\":[1", Encoding.UTF8.GetString(Bytes(body, bytewise[1])));
        Assert.Equal("\"input\":[", Encoding.UTF8.GetString(Bytes(body, split[1])));
        Assert.All(new[] { whole, bytewise, split }, members => Assert.True(members.LastIsOpen && !members.EndsOnMemberBoundary));
    }

    [Fact]
    public void Scan_StopInAMemberNotForwarded_EndsOnAMemberBoundary()
    {
        var body = """{"model":"m","stream":[1},"input":[2]}"""u8.ToArray();
        var members = Feed(body, [body.Length]).Members;
        Assert.Equal(["model"], Names(body, members));
        Assert.False(members.LastIsOpen);
        Assert.True(members.EndsOnMemberBoundary); // nothing forwarded is unfinished; the parser refuses the body anyway
    }

    [Theory]
    [InlineData("[1,2]")]
    [InlineData(" [{\"model\":\"m\"}]")]
    [InlineData("\"x\"")]
    [InlineData("\"{\\\"model\\\":1}\"")]
    [InlineData("42")]
    [InlineData("null")]
    [InlineData("x{\"model\":\"m\"}")]
    [InlineData("\uFEFF{\"model\":\"m\"}")]
    public void Scan_NonObjectBody_RecordsNoSegment(string text)
    {
        var body = Encoding.UTF8.GetBytes(text);
        foreach (var feeding in new[] { Feed(body, [body.Length]), Feed(body, Enumerable.Range(1, body.Length)) })
        {
            Assert.Equal(0, feeding.Members.Count);
            Assert.False(feeding.Members.LastIsOpen);
            Assert.False(feeding.Members.KnownFreeOfEscapes);
        }
    }

    [Theory]
    [InlineData("{\"model\":\"m\",\"input\":[1,2", 2)]
    [InlineData("{\"model\":\"m\",\"input\":{\"a\":[{}", 2)]
    [InlineData("{\"model\":\"m", 1)]
    [InlineData("{\"model\":\"m\\", 1)]
    [InlineData("{\"model\":\"m\\\"", 1)]
    [InlineData("{\"model\":\"m\"", 1)]
    [InlineData("{\"model\":\"m\" ", 1)]
    [InlineData("{\"model\":12", 1)]
    [InlineData("{\"model\":true \n", 1)]
    public void Scan_BodyStillArrivingInsideAForwardedMember_LastIsOpenAndNotOnABoundary(string text, int count)
    {
        var body = Encoding.UTF8.GetBytes(text);
        var members = Feed(body, Enumerable.Range(1, body.Length)).Members;
        Assert.Equal(count, members.Count);
        Assert.True(members.LastIsOpen);
        Assert.False(members.EndsOnMemberBoundary);
        Assert.False(members.KnownFreeOfEscapes);
    }

    [Theory]
    [InlineData("""{"model":"m",""")]
    [InlineData("""{"model":"m", "inp""")]
    [InlineData("""{"model":"m","stream":tr""")]
    [InlineData("""{"model":"m","input": """)]
    [InlineData("""{"model":"m","input":"hi""")]
    [InlineData("""{"model":"m","input":"hi" """)]
    public void Scan_BodyStillArrivingBetweenForwardedMembers_LastIsClosedButNotOnABoundary(string text)
    {
        var body = Encoding.UTF8.GetBytes(text);
        var members = Feed(body, Enumerable.Range(1, body.Length)).Members;
        Assert.Equal(["model"], Names(body, members));
        Assert.False(members.LastIsOpen);
        Assert.False(members.EndsOnMemberBoundary); // the object has not closed: more members may follow
        Assert.Equal("\"model\":\"m\"", Encoding.UTF8.GetString(Bytes(body, members[0])));
    }

    [Fact]
    public void KnownValidUtf8_MultiByteTextFedOneByteAtATime_IsTrueWheneverThePrefixEndsOnACharacter()
    {
        var body = Encoding.UTF8.GetBytes("{\"日本\":\"héllo wörld 日本語 😀 \u0080\u07FF\u0800\uFFFD\U0010FFFF\",\"é\":[\"😀😀\"],\"x\":\"€\"}");
        var members = new ForwardableMembers();
        for (var length = 0; length <= body.Length; length++)
        {
            members.Scan(body.AsSpan(0, length));
            Assert.Equal(System.Text.Unicode.Utf8.IsValid(body.AsSpan(0, length)), members.KnownValidUtf8);
        }
        Assert.True(members.KnownValidUtf8);
        Assert.True(members.EndsOnMemberBoundary);
        Assert.Equal(["日本", "é", "x"], Names(body, members));
    }

    public static TheoryData<byte[]> InvalidUtf8 => new()
    {
        new byte[] { 0xC3, 0x28 },             // a lead byte, then no continuation
        new byte[] { 0xFF },                   // never in UTF-8
        new byte[] { 0xFE, 0x80, 0x80, 0x80 },
        new byte[] { 0xC0, 0xAF },             // overlong '/'
        new byte[] { 0xE0, 0x80, 0xAF },       // overlong, three bytes
        new byte[] { 0xF0, 0x80, 0x80, 0xAF }, // overlong, four bytes
        new byte[] { 0xED, 0xA0, 0x80 },       // a UTF-16 surrogate
        new byte[] { 0xF4, 0x90, 0x80, 0x80 }, // past U+10FFFF
        new byte[] { 0x80 },                   // a continuation with no lead
        new byte[] { 0xC3, 0xA9, 0xA9 },       // one continuation too many
        new byte[] { 0xE6, 0x97 },             // cut short, then a quote
        new byte[] { 0xF0, 0x9F, 0x98 },
    };

    [Theory, MemberData(nameof(InvalidUtf8))]
    public void KnownValidUtf8_InvalidBytesAnywhereAndSplitAnywhere_IsFalse(byte[] invalid)
    {
        foreach (var (before, after) in new[] { ("{\"a\":\"x", "y\"}"), ("{\"", "\":1}"), ("{\"a\":\"é", "\"}"), ("{\"a\":\"", "\"}") })
        {
            byte[] body = [.. Encoding.UTF8.GetBytes(before), .. invalid, .. Encoding.UTF8.GetBytes(after)];
            Assert.False(Feed(body, [body.Length]).Members.KnownValidUtf8);
            Assert.False(Feed(body, Enumerable.Range(1, body.Length)).Members.KnownValidUtf8);
            for (var split = 0; split <= body.Length; split++)
            {
                Assert.False(Feed(body, [split, body.Length]).Members.KnownValidUtf8, $"split at {split}");
            }
            // And at the very end of what has arrived, which more bytes might still have completed.
            byte[] cut = [.. Encoding.UTF8.GetBytes(before), .. invalid];
            Assert.False(Feed(cut, Enumerable.Range(1, cut.Length)).Members.KnownValidUtf8);
        }
    }

    [Fact]
    public void KnownValidUtf8_OnceInvalid_StaysFalse()
    {
        byte[] body = [.. "{\"a\":\""u8, 0xFF, .. "\",\"b\":\"ok ok ok ok\"}"u8];
        var members = new ForwardableMembers();
        for (var length = 1; length <= body.Length; length++)
        {
            members.Scan(body.AsSpan(0, length));
            Assert.Equal(length <= 6, members.KnownValidUtf8);
        }
    }

    [Theory]
    [InlineData("""{"a":"x\\y"}""")]
    [InlineData("""{"a":"\u0041"}""")]
    [InlineData("""{"a":"\""}""")]
    [InlineData("""{"a\u0062":1}""")]
    [InlineData("""{"a":[{"b":"\n"}]}""")]
    [InlineData("""{"stream":"\/"}""")]
    [InlineData("""{"input":"hi \"there\""}""")]
    [InlineData("""{"model":"m","metadata":{"k\\":"v"}}""")]
    public void KnownFreeOfEscapes_AnyStringWithABackslash_IsFalse(string text)
    {
        var body = Encoding.UTF8.GetBytes(text);
        var members = Feed(body, Enumerable.Range(1, body.Length)).Members;
        Assert.True(members.EndsOnMemberBoundary);
        Assert.False(members.KnownFreeOfEscapes);
        Assert.False(Feed(body, [body.Length]).Members.KnownFreeOfEscapes);
    }

    [Theory]
    [InlineData("""{"model":"m","input":[{"role":"user","content":[{"type":"text","text":"héllo / 日本語"}]}],"stream":true,"n":1.5}""")]
    [InlineData("{}")]
    [InlineData(" {\"a\" : [ ] } ")]
    public void KnownFreeOfEscapes_NoBackslash_IsTrueOnlyOnceTheObjectClosed(string text)
    {
        var body = Encoding.UTF8.GetBytes(text);
        var close = body.AsSpan().LastIndexOf((byte)'}');
        var members = new ForwardableMembers();
        for (var length = 0; length <= body.Length; length++)
        {
            members.Scan(body.AsSpan(0, length));
            Assert.Equal(length > close, members.KnownFreeOfEscapes);
        }
    }

    [Fact]
    public void KnownFreeOfEscapes_ScanStoppedBeforeTheEnd_IsFalse()
    {
        var body = """{"model":"m","input":[1}]}"""u8.ToArray();
        Assert.False(Feed(body, [body.Length]).Members.KnownFreeOfEscapes);
    }

    public static TheoryData<string> NestingKinds => new() { "arrays", "objects", "mixed" };

    [Theory, MemberData(nameof(NestingKinds))]
    public void Scan_ValueNested63Deep_IsFollowedToItsEnd(string kind)
    {
        var value = Nested(kind, 63);
        var body = Encoding.UTF8.GetBytes("{\"model\":\"m\",\"input\":" + value + ",\"n\":1}");
        using (var document = TryParse(body, Strict)) Assert.NotNull(document); // the parser's limit: 64 with the root

        foreach (var feeding in new[] { Feed(body, [body.Length]), Feed(body, Enumerable.Range(1, body.Length)) })
        {
            Assert.Equal(["model", "input", "n"], Names(body, feeding.Members));
            Assert.Equal("\"input\":" + value, Encoding.UTF8.GetString(Bytes(body, feeding.Members[1])));
            Assert.True(feeding.Members.EndsOnMemberBoundary);
            AssertReassembles(body, feeding.Members);
        }
    }

    [Theory, MemberData(nameof(NestingKinds))]
    public void Scan_ValueNested64Deep_StopsWithTheSegmentOpen(string kind)
    {
        var body = Encoding.UTF8.GetBytes("{\"model\":\"m\",\"input\":" + Nested(kind, 64) + ",\"n\":1}");
        Assert.Null(TryParse(body, Strict));

        foreach (var feeding in new[] { Feed(body, [body.Length]), Feed(body, Enumerable.Range(1, body.Length)) })
        {
            Assert.Equal(["model", "input"], Names(body, feeding.Members));
            Assert.True(feeding.Members.LastIsOpen);
            Assert.False(feeding.Members.EndsOnMemberBoundary);
            Assert.False(feeding.Members.KnownFreeOfEscapes);
        }
    }

    // ---- payload bytes checked as they arrive, left out of what step 4 parses ----

    private const string AudioPrefix = "{\"model\":\"m\",\"input\":[{\"role\":\"user\",\"content\":[{\"type\":\"input_audio\",\"input_audio\":{\"data\":\"";

    /// <summary>A body with one inline audio payload; returns where its base64 starts and how long it is.</summary>
    private static (byte[] Body, int From, int Length) AudioBody(string payload, bool dataUri = true)
    {
        var prefix = AudioPrefix + (dataUri ? "data:audio/wav;base64," : "");
        var body = Encoding.UTF8.GetBytes(prefix + payload + "\",\"format\":\"wav\"}}]}],\"stream\":true}");
        return (body, Encoding.UTF8.GetByteCount(prefix), Encoding.UTF8.GetByteCount(payload));
    }

    private static string ValidBase64Text(int bytes, int seed)
    {
        var data = new byte[bytes];
        new Random(seed).NextBytes(data);
        return Convert.ToBase64String(data);
    }

    private static bool IsAlphabet(byte b) => b is >= (byte)'A' and <= (byte)'Z' or >= (byte)'a' and <= (byte)'z' or >= (byte)'0' and <= (byte)'9' or (byte)'+' or (byte)'/';

    [Theory]
    [InlineData(6000, true)] // no padding
    [InlineData(6001, true)] // "=="
    [InlineData(6002, false)] // "=", bare base64 without a data: header
    public void AlphabetRuns_ALongPayloadInInput_RunsFromAfterItsHeadToBeforeItsLastGroup_HoweverItArrives(int bytes, bool dataUri)
    {
        var (body, from, length) = AudioBody(ValidBase64Text(bytes, bytes), dataUri);
        var lastGroup = from + (length - 4) / 4 * 4; // may carry padding: always parsed
        var random = new Random(bytes);
        foreach (var lengths in new[] { new[] { body.Length }, RandomCuts(body.Length, random), RandomCuts(body.Length, random), [.. Enumerable.Range(1, body.Length)] })
        {
            var run = Assert.Single(Feed(body, lengths).Members.AlphabetRuns(body));
            Assert.Equal((from + ForwardableMembers.KeptHeadBytes, lastGroup - from - ForwardableMembers.KeptHeadBytes), run);
        }
    }

    public static TheoryData<string, int> NotAlphabet => new()
    {
        { "*", 5000 }, { "*", 5001 }, { "*", 5003 }, // a byte outside the alphabet, at each place in a group
        { "=", 6000 }, // padding mid-way
        { " ", 7000 }, { "\n", 7000 }, // whitespace, which Base64.IsValid skips and JSON refuses raw in a string
        { "\"", 6000 }, // the string ends early: what follows is JSON for the parser to judge
    };

    [Theory, MemberData(nameof(NotAlphabet))]
    public void AlphabetRuns_EndAtTheGroupHoldingTheFirstByteOutsideTheAlphabet(string insert, int at)
    {
        var text = ValidBase64Text(7500, 3).Insert(at, insert);
        var (body, from, _) = AudioBody(text);
        // A string that ends there keeps its last group back, as any string does (it may carry padding).
        var end = insert == "\"" ? (at - 4) / 4 * 4 : at / 4 * 4;
        var random = new Random(at);
        foreach (var lengths in new[] { new[] { body.Length }, RandomCuts(body.Length, random), [.. Enumerable.Range(1, body.Length)] })
        {
            var run = Assert.Single(Feed(body, lengths).Members.AlphabetRuns(body));
            Assert.Equal((from + ForwardableMembers.KeptHeadBytes, end - ForwardableMembers.KeptHeadBytes), run);
        }
    }

    public static TheoryData<string, string> NoRuns => new()
    {
        // An escape anywhere in the string: the rules decode it, and measure it decoded.
        { "escaped", AudioPrefix + ValidBase64Text(6000, 1).Insert(7000, "\\/") + "\",\"format\":\"wav\"}}]}]}" },
        // Too short to be worth leaving out: 300 bytes, and a first byte outside the alphabet early on.
        { "short", AudioPrefix + ValidBase64Text(300, 1) + "\",\"format\":\"wav\"}}]}]}" },
        { "early", AudioPrefix + ValidBase64Text(6000, 1).Insert(1000, "*") + "\",\"format\":\"wav\"}}]}]}" },
        // Outside input: no rule reads these, and tags are measured by what they hold.
        { "metadata", "{\"model\":\"m\",\"metadata\":{\"t\":\"" + ValidBase64Text(6000, 1) + "\"},\"input\":[]}" },
        { "unknown member", "{\"model\":\"m\",\"x\":[\"" + ValidBase64Text(6000, 1) + "\"],\"input\":[]}" },
        // A string input is rewritten, not forwarded; a member name inside input is a name, however long.
        { "string input", "{\"model\":\"m\",\"input\":\"" + ValidBase64Text(6000, 1) + "\"}" },
        { "name", "{\"model\":\"m\",\"input\":[{\"" + ValidBase64Text(6000, 1) + "\" :1}]}" },
        // An escaped name that reads "input" is not sent ahead.
        { "escaped input name", "{\"model\":\"m\",\"\\u0069nput\":[\"" + ValidBase64Text(6000, 1) + "\"]}" },
        // Never closed: the parser refuses it.
        { "unclosed", AudioPrefix + ValidBase64Text(6000, 1) },
    };

    [Theory, MemberData(nameof(NoRuns))]
    public void AlphabetRuns_None_WhereLeavingBytesOutCouldChangeAVerdict(string label, string text)
    {
        var body = Encoding.UTF8.GetBytes(text);
        foreach (var lengths in new[] { new[] { body.Length }, RandomCuts(body.Length, new Random(label.Length)) })
            Assert.Empty(Feed(body, lengths, label).Members.AlphabetRuns(body));
    }

    [Fact]
    public void KnownValidUtf8_LongPayloadsWithTextOrInvalidBytesAround_AgreesWithTheWholeBodyCheck_HoweverItArrives()
    {
        // The UTF-8 check skips the payload bytes the base64 search has read: around and after them it must still look.
        var random = new Random(20261205);
        byte[][] inserts = [[0xC3, 0xA9], [0xE6, 0x97, 0xA5], [0xF0, 0x9F, 0x98, 0x80], [0xC3], [0xE6, 0x97], [0xFF], [0x80], [0xED, 0xA0, 0x80], [0xC0, 0xAF]];
        var (valid, invalid) = (0, 0);
        for (var n = 0; n < 400; n++)
        {
            var (template, from, length) = AudioBody(ValidBase64Text(random.Next(3000, 9000), n), dataUri: n % 2 == 0);
            var body = new List<byte>(template);
            for (var edits = random.Next(1, 3); edits > 0; edits--)
            {
                // Just before, inside or just after the payload, or anywhere.
                var at = random.Next(4) switch
                {
                    0 => from - random.Next(0, 3),
                    1 => from + random.Next(length),
                    2 => from + length + random.Next(0, 3),
                    _ => random.Next(body.Count),
                };
                body.InsertRange(Math.Clamp(at, 0, body.Count), inserts[random.Next(inserts.Length)]);
            }
            var bytes = body.ToArray();
            var expected = System.Text.Unicode.Utf8.IsValid(bytes);
            if (expected) valid++; else invalid++;
            foreach (var lengths in new[] { new[] { bytes.Length }, RandomCuts(bytes.Length, random), RandomCuts(bytes.Length, random) })
                Assert.True(expected == Feed(bytes, lengths).Members.KnownValidUtf8, $"case {n}: expected {expected}");
        }
        Assert.True(valid > 50 && invalid > 50, $"{valid} valid, {invalid} invalid");
    }

    [Fact]
    public void AlphabetRuns_RandomPayloadsAndEdits_AreAlphabetOnlyInsideAString_AndTheSkeletonParsesAsTheBodyDoes()
    {
        var random = new Random(20261204);
        const string alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/= -_*\"\\:,{}[]\n";
        var runsSeen = 0;
        for (var n = 0; n < 300; n++)
        {
            var text = new StringBuilder(ValidBase64Text(random.Next(3000, 12000), n));
            for (var edits = random.Next(0, 3); edits > 0; edits--)
                text[random.Next(text.Length)] = alphabet[random.Next(alphabet.Length)];
            var (body, _, _) = AudioBody(text.ToString(), dataUri: random.Next(2) == 0);
            var members = Feed(body, RandomCuts(body.Length, random)).Members;
            foreach (var (from, length) in members.AlphabetRuns(body))
            {
                runsSeen++;
                Assert.True(length >= ForwardableMembers.LeftOutFromBytes && length % 4 == 0, $"run of {length} bytes: {text}");
                Assert.True(body.AsSpan(from, length).ToArray().All(IsAlphabet), $"a run holds a byte outside the alphabet: {text}");
            }
            if (!members.EndsOnMemberBoundary) continue;
            using var skeleton = BodySkeleton.Of(body, members);
            if (skeleton is null) continue;
            Assert.Equal(Parses(body), Parses(skeleton.Memory.ToArray()));
        }
        Assert.True(runsSeen > 100, $"only {runsSeen} of 300 bodies had a run to leave out");

        static bool Parses(byte[] json)
        {
            try
            {
                using var document = JsonDocument.Parse(json, Strict);
                return true;
            }
            catch (JsonException)
            {
                return false;
            }
        }
    }

    private static int[] RandomCuts(int length, Random random)
    {
        var cuts = new SortedSet<int> { length };
        for (var i = random.Next(1, 40); i > 0; i--) cuts.Add(random.Next(1, length));
        return [.. cuts];
    }

    /// <summary>A value <paramref name="depth"/> arrays and/or objects deep, with a number innermost.</summary>
    private static string Nested(string kind, int depth)
    {
        var (open, close) = (new StringBuilder(), new StringBuilder());
        for (var level = 0; level < depth; level++)
        {
            var array = kind == "arrays" || (kind == "mixed" && level % 2 == 0);
            open.Append(array ? "[" : "{\"k\":");
            close.Insert(0, array ? ']' : '}');
        }
        return open.Append('1').Append(close).ToString();
    }

    // ---- feeding, and what must hold after every read ----

    private sealed record Scanned(ForwardableMembers Members, Segment[] Segments);

    /// <summary>
    /// Scans <paramref name="body"/> as it would arrive, the whole body so far at each of <paramref name="lengths"/>,
    /// checking after every scan what the sender relies on: segments only grow, and what it may have sent never closes the object.
    /// </summary>
    private static Scanned Feed(byte[] body, IEnumerable<int> lengths, string? label = null)
    {
        label ??= Preview(body);
        var members = new ForwardableMembers();
        Segment[] previous = [];
        var previousOpen = false;
        foreach (var length in lengths)
        {
            members.Scan(body.AsSpan(0, length));
            var segments = SegmentsOf(members);
            var at = $"after {length} of {body.Length} bytes, {label}";
            Assert.True(segments.Length >= previous.Length, $"segments dropped {at}");
            for (var i = 0; i < previous.Length; i++)
            {
                var reopened = previousOpen && i == previous.Length - 1;
                var (was, now) = (previous[i], segments[i]);
                Assert.True(reopened
                    ? was.Start == now.Start && was.NameEnd == now.NameEnd && now.End >= was.End
                    : was == now, $"segment {i} changed from {was} to {now} {at}");
            }
            for (var i = 0; i < segments.Length; i++)
            {
                var segment = segments[i];
                Assert.True(segment.Start < segment.NameEnd && segment.NameEnd <= segment.End && segment.End <= length, $"segment {i} {segment} out of bounds {at}");
                Assert.True(body[segment.Start] == '"' && body[segment.NameEnd - 1] == '"', $"segment {i} {segment} does not start with a name {at}");
                if (i > 0) Assert.True(segments[i - 1].End < segment.Start, $"segments {i - 1} and {i} overlap {at}");
            }
            Assert.True(members.Count > 0 || !members.LastIsOpen, $"open with no segment {at}");
            var sent = ForwardedPrefix(body, members);
            using (var complete = TryParse(sent, Upstream))
                Assert.True(complete is null, $"forwarded a complete JSON document {Preview(sent)} {at}");
            (previous, previousOpen) = (segments, members.LastIsOpen);
        }
        return new Scanned(members, previous);
    }

    private static void AssertSameScan(Scanned expected, Scanned actual, byte[] body, string label)
    {
        Assert.True(expected.Segments.SequenceEqual(actual.Segments),
            $"segments differ: [{string.Join(", ", expected.Segments)}] vs [{string.Join(", ", actual.Segments)}], {label}; {Preview(body)}");
        Assert.True(expected.Members.LastIsOpen == actual.Members.LastIsOpen, $"LastIsOpen differs, {label}");
        Assert.True(expected.Members.EndsOnMemberBoundary == actual.Members.EndsOnMemberBoundary, $"EndsOnMemberBoundary differs, {label}");
        Assert.True(expected.Members.KnownValidUtf8 == actual.Members.KnownValidUtf8, $"KnownValidUtf8 differs, {label}");
        Assert.True(expected.Members.KnownFreeOfEscapes == actual.Members.KnownFreeOfEscapes, $"KnownFreeOfEscapes differs, {label}");
    }

    /// <summary>
    /// Where the scan stops inside a forwarded member, that member stays open as far as the scan had got by the read
    /// before: chunked feeding may have got further into it than one scan of the whole. Everything else is the same.
    /// </summary>
    private static void AssertSameUpToTheStop(Scanned whole, Scanned chunked, byte[] body, string label)
    {
        var (a, b) = (whole.Segments, chunked.Segments);
        var same = a.Length == b.Length && whole.Members.LastIsOpen == chunked.Members.LastIsOpen
            && whole.Members.EndsOnMemberBoundary == chunked.Members.EndsOnMemberBoundary
            && a.Take(a.Length - 1).SequenceEqual(b.Take(b.Length - 1))
            && (a.Length == 0 || (whole.Members.LastIsOpen
                ? a[^1].Start == b[^1].Start && a[^1].NameEnd == b[^1].NameEnd && b[^1].End >= a[^1].End
                : a[^1] == b[^1]));
        Assert.True(same, $"segments differ: [{string.Join(", ", a)}] open {whole.Members.LastIsOpen} vs [{string.Join(", ", b)}] open {chunked.Members.LastIsOpen}, {label}");
        Assert.True(whole.Members.KnownFreeOfEscapes == chunked.Members.KnownFreeOfEscapes, $"KnownFreeOfEscapes differs, {label}");
    }

    /// <summary>
    /// What the upstream is finally sent — <c>{</c>, the segments, then the members not forwarded as an object without
    /// its <c>{</c> — parses to the body's members with the same values, the forwarded ones byte for byte.
    /// </summary>
    private static void AssertReassembles(byte[] body, ForwardableMembers members, string? label = null)
    {
        label ??= Preview(body);
        Assert.True(members.EndsOnMemberBoundary, label);
        using var original = JsonDocument.Parse(body, Strict);
        var (rest, restHasMembers) = Rest(body, original.RootElement, members);
        var sent = new List<byte>(ForwardedPrefix(body, members));
        // The enricher's rest always holds stream, stream_options and modalities; this one may be empty.
        if (members.Count > 0 && restHasMembers) sent.Add((byte)',');
        sent.AddRange(rest.AsSpan(1));
        var reassembled = TryParse([.. sent], Strict);
        Assert.True(reassembled is not null, $"reassembled body does not parse: {Preview([.. sent])}; {label}");
        using (reassembled)
        {
            var (expected, actual) = (CanonicalMembers(original.RootElement), CanonicalMembers(reassembled.RootElement));
            Assert.True(expected.Length == actual.Length, $"{expected.Length} members, reassembled {actual.Length}; {label}");
            for (var i = 0; i < expected.Length; i++) Assert.True(expected[i] == actual[i], $"member {expected[i]}, reassembled {actual[i]}; {label}");
            foreach (var property in reassembled.RootElement.EnumerateObject())
            {
                if (!members.Forwarded(body, JsonMarshal.GetRawUtf8PropertyName(property))) continue;
                Assert.Equal(original.RootElement.GetProperty(JsonMarshal.GetRawUtf8PropertyName(property)).GetRawText(), property.Value.GetRawText());
            }
        }
    }

    private static (byte[] Bytes, bool HasMembers) Rest(byte[] body, JsonElement root, ForwardableMembers members)
    {
        var buffer = new ArrayBufferWriter<byte>();
        var any = false;
        using (var writer = new Utf8JsonWriter(buffer, Relaxed))
        {
            writer.WriteStartObject();
            foreach (var property in root.EnumerateObject())
            {
                if (members.Forwarded(body, JsonMarshal.GetRawUtf8PropertyName(property))) continue;
                property.WriteTo(writer);
                any = true;
            }
            writer.WriteEndObject();
        }
        return (buffer.WrittenSpan.ToArray(), any);
    }

    /// <summary>The object's members by decoded name, in name order, each value re-serialised the same way.</summary>
    private static string[] CanonicalMembers(JsonElement root) =>
        [.. root.EnumerateObject().Select(p => JsonSerializer.Serialize(p.Name) + ":" + Canonical(p.Value)).Order(StringComparer.Ordinal)];

    private static string Canonical(JsonElement value)
    {
        var buffer = new ArrayBufferWriter<byte>();
        using (var writer = new Utf8JsonWriter(buffer, Relaxed)) value.WriteTo(writer);
        return Encoding.UTF8.GetString(buffer.WrittenSpan);
    }

    /// <summary>What the sender has sent: <c>{</c>, then the segments joined by <c>,</c>.</summary>
    private static byte[] ForwardedPrefix(byte[] body, ForwardableMembers members)
    {
        var sent = new List<byte> { (byte)'{' };
        for (var i = 0; i < members.Count; i++)
        {
            if (i > 0) sent.Add((byte)',');
            sent.AddRange(Bytes(body, members[i]));
        }
        return [.. sent];
    }

    private static byte[] Bytes(byte[] body, Segment segment) => body[segment.Start..segment.End];

    private static Segment[] SegmentsOf(ForwardableMembers members) => [.. Enumerable.Range(0, members.Count).Select(i => members[i])];

    private static string[] Names(byte[] body, ForwardableMembers members) =>
        [.. SegmentsOf(members).Select(s => Encoding.UTF8.GetString(body, s.Start + 1, s.NameEnd - s.Start - 2))];

    private static JsonDocument? TryParse(byte[] bytes, JsonDocumentOptions options)
    {
        try
        {
            return JsonDocument.Parse(bytes, options);
        }
        catch (JsonException)
        {
            return null;
        }
    }

    /// <summary>
    /// The body as step 4 would accept it (as JSON: the rules after that are not this scan's business), or null: valid
    /// UTF-8 (the parser reads string contents lazily), valid JSON, and no escape that is not text (a lone surrogate).
    /// </summary>
    private static JsonDocument? Judge(byte[] body)
    {
        if (!System.Text.Unicode.Utf8.IsValid(body) || TryParse(body, Strict) is not { } document) return null;
        try
        {
            if (document.RootElement.ValueKind == JsonValueKind.Object) _ = CanonicalMembers(document.RootElement);
            return document;
        }
        catch (InvalidOperationException)
        {
            document.Dispose();
            return null;
        }
    }

    private static string Repeat(string text, int count) => string.Concat(Enumerable.Repeat(text, count));

    private static string Preview(byte[] body)
    {
        var text = Encoding.UTF8.GetString(body);
        return text.Length <= 400 ? text : text[..400] + $"… ({body.Length} bytes)";
    }

    private static readonly int[] ChunkSizes = [1, 2, 3, 7, 16, 64, 500];

    private static IEnumerable<int> Chunks(Random random, int length)
    {
        var most = ChunkSizes[random.Next(ChunkSizes.Length)];
        var at = 0;
        while (at < length)
        {
            at = Math.Min(length, at + random.Next(1, most + 1));
            yield return at;
        }
        if (length == 0) yield return 0;
    }

    // ---- random bodies ----

    private static readonly string[] KnownNames =
    [
        "model", "input", "input", "stream", "stream_options", "modalities", "audio", "max_output_tokens", "metadata", "temperature",
        "tools", "instructions", "enable_thinking", "mod\\u0065l", "a\\\"b", "x\\\\y", "日本", "", "h\u00e9llo", "😀", "{}[],:", "in\\/put",
    ];

    private static readonly string[] StringPieces =
    [
        "a", "text", " ", "0", "\\\"", "\\\\", "\\/", "\\b", "\\f", "\\n", "\\r", "\\t", "\\u00e9", "\\u0022", "\\u005c", "\\ud83d\\ude00",
        "é", "ö", "日本語", "😀", "€", "{", "}", "[", "]", ",", ":", "'", "\\\\\\\"", "null", "true",
    ];

    private static readonly string[] Literals = ["true", "false", "null"];

    private static readonly string[] Numbers = ["0", "-0", "1", "-1", "12.5", "1e10", "-2.5E-3", "1E+400", "123456789012345678901234567890", "0.000001"];

    private static string RandomObject(Random random)
    {
        var builder = new StringBuilder();
        Space(random, builder);
        builder.Append('{');
        var names = new HashSet<string>();
        for (var count = random.Next(0, 9); count > 0; count--)
        {
            var name = random.Next(3) > 0 ? KnownNames[random.Next(KnownNames.Length)] : RandomString(random, 3) + names.Count.ToString(CultureInfo.InvariantCulture);
            if (name is "mod\\u0065l" && names.Contains("model") || name is "model" && names.Contains("mod\\u0065l")) continue;
            if (!names.Add(name)) continue;
            if (names.Count > 1) builder.Append(',');
            Space(random, builder);
            builder.Append('"').Append(name).Append('"');
            Space(random, builder);
            builder.Append(':');
            Space(random, builder);
            if (name == "input" && random.Next(3) == 0) builder.Append('"').Append(RandomString(random, 8)).Append('"');
            else Value(random, builder, depth: 1);
            Space(random, builder);
        }
        builder.Append('}');
        Space(random, builder);
        return builder.ToString();
    }

    private static void Value(Random random, StringBuilder builder, int depth)
    {
        switch (random.Next(depth >= 6 ? 3 : 6))
        {
            case 0:
                builder.Append(Numbers[random.Next(Numbers.Length)]);
                break;
            case 1:
                builder.Append(Literals[random.Next(Literals.Length)]);
                break;
            case 2:
                builder.Append('"').Append(RandomString(random, 10)).Append('"');
                break;
            case 3:
            case 4:
                builder.Append('[');
                for (var i = random.Next(0, 5); i > 0; i--)
                {
                    Space(random, builder);
                    Value(random, builder, depth + 1);
                    Space(random, builder);
                    if (i > 1) builder.Append(',');
                }
                builder.Append(']');
                break;
            default:
                builder.Append('{');
                var keys = random.Next(0, 4);
                for (var i = 0; i < keys; i++)
                {
                    Space(random, builder);
                    builder.Append("\"k").Append(i).Append(RandomString(random, 2)).Append("\":");
                    Space(random, builder);
                    Value(random, builder, depth + 1);
                    if (i < keys - 1) builder.Append(',');
                }
                builder.Append('}');
                break;
        }
    }

    private static string RandomString(Random random, int most)
    {
        var builder = new StringBuilder();
        for (var i = random.Next(0, most + 1); i > 0; i--) builder.Append(StringPieces[random.Next(StringPieces.Length)]);
        return builder.ToString();
    }

    private static void Space(Random random, StringBuilder builder)
    {
        if (random.Next(3) > 0) return;
        for (var i = random.Next(1, 4); i > 0; i--) builder.Append(" \t\r\n"[random.Next(4)]);
    }

    private static readonly byte[] Interesting = [.. "{}[]\",:\\ 0a-"u8, 0x80, 0xC3, 0xE6, 0xF0, 0xFF];

    private static byte[] Corrupt(Random random, byte[] body)
    {
        var bytes = new List<byte>(body);
        for (var edits = random.Next(1, 4); edits > 0; edits--)
        {
            var at = random.Next(bytes.Count + 1);
            switch (random.Next(4))
            {
                case 0 when at < bytes.Count: bytes.RemoveAt(at); break;
                case 1 when at < bytes.Count: bytes[at] = Interesting[random.Next(Interesting.Length)]; break;
                case 2: bytes.RemoveRange(at, bytes.Count - at); break;
                default: bytes.Insert(at, Interesting[random.Next(Interesting.Length)]); break;
            }
        }
        return [.. bytes];
    }
}
