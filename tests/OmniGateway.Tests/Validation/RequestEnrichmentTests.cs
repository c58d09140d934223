using System.Text;
using System.Text.Json;
using OmniGateway.Errors;
using OmniGateway.Validation;
using static OmniGateway.Tests.Validation.Bodies;

namespace OmniGateway.Tests.Validation;

/// <summary>Contract 3.3: what an accepted body becomes on its way upstream.</summary>
public sealed class RequestEnrichmentTests
{
    [Fact]
    public void MinimalBody_ForcesStreamUsageAndDefaultAudio()
    {
        var request = RequestValidatorTests.Accept(Req("\"Hello\""));
        using var sent = Parse(request);
        var root = sent.RootElement;
        Assert.Equal(JsonValueKind.True, root.GetProperty("stream").ValueKind);
        Assert.Equal(JsonValueKind.True, root.GetProperty("stream_options").GetProperty("include_usage").ValueKind);
        Assert.Equal(["text", "audio"], Strings(root.GetProperty("modalities")));
        Assert.Equal("Tina", root.GetProperty("audio").GetProperty("voice").GetString());
        Assert.Equal("wav", root.GetProperty("audio").GetProperty("format").GetString());
        Assert.Equal(TestCatalog.Model, root.GetProperty("model").GetString());
        Assert.False(request.ClientWantsStream); // OpenAI's default: the gateway aggregates
        Assert.True(request.WantsAudio);
        Assert.Equal(("Tina", "text,audio"), (request.Voice, request.Modalities));
        AssertNoDuplicateNames(root);
    }

    [Fact]
    public void StringInput_BecomesOneUserTextMessage()
    {
        using var sent = Parse(RequestValidatorTests.Accept(Req(Json("你好 \"quoted\" <&>"))));
        var input = sent.RootElement.GetProperty("input");
        Assert.Equal(1, input.GetArrayLength());
        var message = input[0];
        Assert.Equal("user", message.GetProperty("role").GetString());
        var part = Assert.Single(message.GetProperty("content").EnumerateArray());
        Assert.Equal("text", part.GetProperty("type").GetString());
        Assert.Equal("你好 \"quoted\" <&>", part.GetProperty("text").GetString());
    }

    [Fact]
    public void StreamOptions_IncludeUsageForcedOtherFieldsKept()
    {
        var body = Req("\"hi\"", "\"stream\":true,\"stream_options\":{\"include_usage\":false,\"include_obfuscation\":false,\"x\":{\"y\":[1]}}");
        var request = RequestValidatorTests.Accept(body);
        using var sent = Parse(request);
        var options = sent.RootElement.GetProperty("stream_options");
        Assert.Equal(JsonValueKind.True, options.GetProperty("include_usage").ValueKind);
        Assert.Equal(JsonValueKind.False, options.GetProperty("include_obfuscation").ValueKind);
        Assert.Equal("""{"y":[1]}""", options.GetProperty("x").GetRawText());
        AssertNoDuplicateNames(options);
        Assert.True(request.ClientWantsStream);
    }

    [Theory]
    [InlineData("tina", "Tina")]
    [InlineData("TINA", "Tina")]
    [InlineData("serena", "Serena")]
    [InlineData("eliška", "Eliska")]
    [InlineData("ELIŠKA", "Eliska")]
    [InlineData("eliska", "Eliska")]
    [InlineData("theo calm", "Theo Calm")]
    public void VoiceName_IsForwardedInCanonicalSpelling(string given, string canonical)
    {
        var request = RequestValidatorTests.Accept(Req("\"hi\"", $$"""
            "audio":{"voice":{{Json(given)}},"format":"wav","speed":1.2}
            """));
        using var sent = Parse(request);
        var audio = sent.RootElement.GetProperty("audio");
        Assert.Equal(canonical, audio.GetProperty("voice").GetString());
        Assert.Equal(canonical, request.Voice);
        Assert.Equal("1.2", audio.GetProperty("speed").GetRawText());
        AssertNoDuplicateNames(audio);
    }

    [Fact]
    public void AudioWithOnlyVoice_GetsDefaultFormat()
    {
        using var sent = Parse(RequestValidatorTests.Accept(Req("\"hi\"", "\"audio\":{\"voice\":\"Serena\"}")));
        Assert.Equal("wav", sent.RootElement.GetProperty("audio").GetProperty("format").GetString());
    }

    [Theory]
    [InlineData("""{"voice":"NoSuchVoice","format":"mp3"}""")]
    [InlineData("\"not even an object\"")]
    [InlineData("null")]
    public void TextOnlyModalities_DropAudioUnchecked(string audio)
    {
        var request = RequestValidatorTests.Accept(Req("\"hi\"", $"\"modalities\":[\"text\"],\"audio\":{audio}"));
        using var sent = Parse(request);
        Assert.Equal(["text"], Strings(sent.RootElement.GetProperty("modalities")));
        Assert.False(sent.RootElement.TryGetProperty("audio", out _));
        Assert.False(request.WantsAudio);
        Assert.Null(request.Voice);
        Assert.Equal("text", request.Modalities);
    }

    [Fact]
    public void UnknownTopLevelFieldsAndInstructions_PassThroughUntouched()
    {
        const string extra = """
            "instructions":"Answer like a pirate <b> & \u00e9 \ud83c\udf89","temperature":0.70,"max_output_tokens":48,
            "x_vendor_options":{"k":["v",1,null,{"x":true}]},"x_vendor_flag":null,"enable_search":true
            """;
        var original = JsonDocument.Parse(Req("\"hi\"", extra));
        using var sent = Parse(RequestValidatorTests.Accept(Req("\"hi\"", extra)));
        foreach (var name in new[] { "instructions", "temperature", "max_output_tokens", "x_vendor_options", "x_vendor_flag", "enable_search" })
        {
            var before = original.RootElement.GetProperty(name);
            var after = sent.RootElement.GetProperty(name);
            Assert.True(JsonElement.DeepEquals(before, after), $"{name}: {before.GetRawText()} became {after.GetRawText()}");
        }
        Assert.Equal("0.70", sent.RootElement.GetProperty("temperature").GetRawText());
        AssertNoDuplicateNames(sent.RootElement);
        original.Dispose();
    }

    [Fact]
    public void ContentParts_AreForwardedAsSpelled()
    {
        var input = $$$"""
            [{"role":"system","content":[{"type":"input_text","text":"Be brief."}]},
             {"role":"assistant","content":[{"type":"output_text","text":"Earlier answer","annotations":[]},{"type":"text","text":"more"}]},
             {"role":"user","content":[{"type":"input_text","text":"Look"},{"type":"input_image","image_url":"{{{PngUrl}}}","detail":"low"}]},
             {"role":"user","content":[{"type":"image_url","image_url":{"url":"data:image/png;base64,iVBORw0KGgo=","detail":"high"}}]},
             {"role":"user","content":[{{{Video(Mp4Url)}}},{"type":"text","text":"and this"}]},
             {"role":"user","content":"plain string content"}]
            """;
        using var original = JsonDocument.Parse(input);
        var request = RequestValidatorTests.Accept(Req(input));
        using var sent = Parse(request);
        Assert.True(JsonElement.DeepEquals(original.RootElement, sent.RootElement.GetProperty("input")),
            sent.RootElement.GetProperty("input").GetRawText());
    }

    [Fact]
    public void TwoAudioPartsInOneUserMessage_AreOneModality()
    {
        RequestValidatorTests.Accept(User(Audio(WavUrl, "wav"), Audio("data:;base64," + WavBase64, "WAV"), Text("compare")));
    }

    public static TheoryData<string> FixtureRequests => new(Fixtures.RequestFiles().Select(Path.GetFileName).OfType<string>());

    [Theory, MemberData(nameof(FixtureRequests))]
    public void SampleRequest_IsAcceptedAndEnrichedOrRefusedForItsKnownReason(string file)
    {
        var bytes = Fixtures.Bytes("requests", file);
        using var original = JsonDocument.Parse(bytes);
        var outcome = new RequestValidator(TestCatalog.Load()).Validate(bytes, TestCatalog.AnyModelTenant).Sides();
        switch (file)
        {
            case "unknown-voice.json":
                Assert.Equal(("unknown_voice", "audio.voice"), (outcome.Error?.Code, outcome.Error?.Param));
                return;
            case "thinking.json":
                // The shipped catalogue says Qwen3.5-Omni has no thinking mode.
                Assert.Equal(("thinking_not_supported", "enable_thinking"), (outcome.Error?.Code, outcome.Error?.Param));
                return;
        }
        Assert.True(outcome.Error is null, $"{file}: {outcome.Error?.Code} {outcome.Error?.Param}");
        var request = outcome.Value!; // no error means a request
        using var sent = Parse(request);
        var root = sent.RootElement;
        var before = original.RootElement;
        Assert.Equal(JsonValueKind.True, root.GetProperty("stream").ValueKind);
        Assert.Equal(JsonValueKind.True, root.GetProperty("stream_options").GetProperty("include_usage").ValueKind);
        Assert.True(JsonElement.DeepEquals(before.GetProperty("input"), root.GetProperty("input")));
        Assert.Equal(before.TryGetProperty("stream", out var stream) && stream.ValueKind == JsonValueKind.True, request.ClientWantsStream);
        var asked = Strings(before.GetProperty("modalities"));
        Assert.Equal(asked, Strings(root.GetProperty("modalities")));
        if (asked.Contains("audio"))
            Assert.Equal(before.GetProperty("audio").GetProperty("voice").GetString(), root.GetProperty("audio").GetProperty("voice").GetString());
        else
            Assert.False(root.TryGetProperty("audio", out _));
        foreach (var property in before.EnumerateObject())
        {
            if (property.Name is "stream" or "stream_options" or "modalities" or "audio" or "input") continue;
            Assert.True(JsonElement.DeepEquals(property.Value, root.GetProperty(property.Name)), property.Name);
        }
        AssertNoDuplicateNames(root);
    }

    [Fact]
    public void ThinkingModel_DefaultsToTextAndRefusesAudio()
    {
        var thinking = new RequestValidator(TestCatalog.Load(new Dictionary<string, string?>
        {
            [$"models:{TestCatalog.Model}:supportsThinking"] = "true",
        }));
        var accepted = thinking.Validate(Fixtures.Bytes("requests", "thinking.json"), TestCatalog.AnyModelTenant).Sides();
        Assert.Null(accepted.Error);

        var implicitText = thinking.Validate(Encoding.UTF8.GetBytes(Req("\"hi\"", "\"enable_thinking\":true")), TestCatalog.AnyModelTenant).Sides();
        var request = Assert.IsType<ValidatedRequest>(implicitText.Value);
        using var sent = Parse(request);
        Assert.Equal(["text"], Strings(sent.RootElement.GetProperty("modalities")));
        Assert.False(sent.RootElement.TryGetProperty("audio", out _));
        Assert.Equal(JsonValueKind.True, sent.RootElement.GetProperty("enable_thinking").ValueKind);

        var withAudio = thinking.Validate(Encoding.UTF8.GetBytes(Req("\"hi\"", "\"enable_thinking\":true,\"modalities\":[\"text\",\"audio\"]")),
            TestCatalog.AnyModelTenant).Sides();
        var error = Assert.IsType<GatewayError>(withAudio.Error);
        Assert.Equal((400, "thinking_with_audio", "modalities"), (error.Status, error.Code, error.Param));
    }

    [Theory]
    [InlineData(new[] { "text" }, false)]
    [InlineData(new[] { "text", "audio" }, true)]
    [InlineData(new string[0], true)]
    public void ModelsConfiguredDefaultModalities_DecideWhatAbsentModalitiesBecome(string[] configured, bool audio)
    {
        var settings = new Dictionary<string, string?>
        {
            ["models:text-first:voices:0:name"] = "Ada",
            ["models:text-first:outputAudioFormats:0"] = "wav",
        };
        for (var i = 0; i < configured.Length; i++) settings[$"models:text-first:defaultModalities:{i}"] = configured[i];
        var validator = new RequestValidator(TestCatalog.Load(settings));
        var outcome = validator.Validate(Encoding.UTF8.GetBytes("""{"model":"text-first","input":"hi"}"""), TestCatalog.AnyModelTenant).Sides();
        var request = Assert.IsType<ValidatedRequest>(outcome.Value);
        using var sent = Parse(request);
        Assert.Equal(audio ? ["text", "audio"] : ["text"], Strings(sent.RootElement.GetProperty("modalities")));
        Assert.Equal(audio, sent.RootElement.TryGetProperty("audio", out _));
        Assert.Equal(audio ? "Ada" : null, request.Voice);
    }

    private static JsonDocument Parse(ValidatedRequest request) => JsonDocument.Parse(request.UpstreamBody);

    private static string[] Strings(JsonElement array) => [.. array.EnumerateArray().Select(e => e.GetString() ?? "")];

    private static void AssertNoDuplicateNames(JsonElement element)
    {
        var names = element.EnumerateObject().Select(p => p.Name).ToList();
        Assert.Equal(names.Count, names.Distinct(StringComparer.Ordinal).Count());
    }
}
