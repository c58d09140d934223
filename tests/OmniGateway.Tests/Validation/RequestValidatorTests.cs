using System.Text;
using System.Text.Json;
using OmniGateway.Errors;
using OmniGateway.Tenants;
using OmniGateway.Validation;
using static OmniGateway.Tests.Validation.Bodies;

namespace OmniGateway.Tests.Validation;

/// <summary>Contract 3.2: every refusal, with its status, code and param; nothing refused reaches the upstream.</summary>
public sealed class RequestValidatorTests
{
    private static readonly RequestValidator Validator = new(TestCatalog.Load());

    public static TheoryData<string, string, string?> MalformedDocuments => new()
    {
        { "not json", "invalid_json", null },
        { "", "invalid_json", null },
        { """{"model":"qwen3.5-omni-plus-all","input":"hi" """, "invalid_json", null },
        { "[]", "invalid_body", null },
        { """ "a string" """, "invalid_body", null },
        { "42", "invalid_body", null },
        { "null", "invalid_body", null },
        // A repeated member would be validated once and forwarded twice; the upstream may read the other one.
        { Req("\"hi\"", "\"input\":[{\"role\":\"assistant\",\"content\":[{\"type\":\"input_audio\"}]}]"), "invalid_json", null },
        { Req("\"hi\"", "\"model\":\"other-model\""), "invalid_json", null },
        { Req("\"hi\"", "\"audio\":{\"voice\":\"Tina\",\"voice\":\"Cherry\"}"), "invalid_json", null },
        { User("""{"type":"text","text":"a","type":"input_audio"}"""), "invalid_json", null },
    };

    /// <summary>Issue 9.2: names that differ only in case (as a case-insensitive reader folds them) are refused, naming the path.</summary>
    public static TheoryData<string, string, string?> CaseTwinMembers => new()
    {
        { Req("\"hi\"", "\"Model\":\"some-other-model\""), "invalid_json", "Model" },
        { Req("\"hi\"", "\"INPUT\":[{\"role\":\"user\",\"content\":\"x\"}]"), "invalid_json", "INPUT" },
        { Req("\"hi\"", "\"\\u004dodel\":\"x\""), "invalid_json", "Model" },
        { User("""{"type":"text","text":"a","Type":"input_audio"}"""), "invalid_json", "input[0].content[0].Type" },
        { Req("[{\"role\":\"user\",\"content\":\"a\",\"Content\":[{\"type\":\"input_audio\"}]}]"), "invalid_json", "input[0].Content" },
        { Req("\"hi\"", "\"metadata\":{\"a\":{\"key\":1,\"\u212Aey\":2}}"), "invalid_json", "metadata.a.\u212Aey" },
        { Req("\"hi\"", "\"ſtream\":false"), "invalid_json", "ſtream" },
        { Req("\"hi\"", "\"Background\":true"), "invalid_json", "Background" },
        { Req("\"hi\"", "\"Audio\":{\"voice\":\"Nobody\"}"), "invalid_json", "Audio" },
        { Req("\"hi\"", "\"background\":true"), "background_not_supported", "background" },
        { Req("\"hi\"", "\"background\":\"yes\""), "background_not_supported", "background" },
    };

    [Theory, MemberData(nameof(CaseTwinMembers))]
    public void MemberNamesDifferingOnlyInCase_OrBackground_Return400(string body, string code, string? param) => AssertRefused(body, 400, code, param);

    [Fact]
    public void BackgroundFalse_AndUnrelatedMixedCaseNames_AreAccepted() =>
        Accept(Req("\"hi\"", "\"background\":false,\"metadata\":{\"Team\":\"a\",\"Owner\":\"b\"}"));

    /// <summary>Grammatical JSON whose strings are not text: <c>\ud800</c> escapes, in values and names.</summary>
    public static TheoryData<string, string, string?> UndecodableStrings => new()
    {
        { """{"model":"\ud800","input":"hi"}""", "invalid_json", null },
        { Req("\"\\ud800\""), "invalid_json", null },
        { Req("\"hi\"", "\"\\udc00x\":1"), "invalid_json", null },
        { Req("\"hi\"", "\"audio\":{\"voice\":\"Ti\\ud800na\"}"), "invalid_json", null },
        { Req("\"hi\"", "\"instructions\":\"\\ud83c\\ud83c\""), "invalid_json", null },
        { User("""{"type":"\ud800"}"""), "invalid_json", null },
        { User(Text("q"), """{"type":"input_audio","input_audio":{"data":"UklG\ud800","format":"wav"}}"""), "invalid_json", null },
        { User(Text("q"), """{"type":"input_audio","input_audio":{"data":"https://a.example/\udc00","format":"\ud800"}}"""), "invalid_json", null },
    };

    public static TheoryData<string, string, string?> ModelProblems => new()
    {
        { """{"input":"hi"}""", "missing_model", "model" },
        { """{"model":null,"input":"hi"}""", "missing_model", "model" },
        { """{"model":42,"input":"hi"}""", "missing_model", "model" },
        { """{"model":"gpt-4o","input":"hi"}""", "model_not_found", "model" },
        { """{"model":"QWEN3.5-OMNI-PLUS-ALL","input":"hi"}""", "model_not_found", "model" },
    };

    public static TheoryData<string, string, string?> InputProblems => new()
    {
        { """{"model":"qwen3.5-omni-plus-all"}""", "missing_input", "input" },
        { Req("null"), "missing_input", "input" },
        { Req("\"\""), "empty_input", "input" },
        { Req("[]"), "empty_input", "input" },
        { Req("42"), "invalid_input", "input" },
        { Req("true"), "invalid_input", "input" },
        { Req("""{"role":"user","content":"hi"}"""), "invalid_input", "input" },
        { Req("""["hi"]"""), "invalid_message", "input[0]" },
        { Req("""[{"role":"user","content":"ok"},42]"""), "invalid_message", "input[1]" },
        { Req("""[{"content":"hi"}]"""), "invalid_role", "input[0].role" },
        { Req("""[{"role":"tool","content":"hi"}]"""), "invalid_role", "input[0].role" },
        { Req("""[{"role":"developer","content":"hi"}]"""), "invalid_role", "input[0].role" },
        { Req("""[{"role":7,"content":"hi"}]"""), "invalid_role", "input[0].role" },
        { Req("""[{"role":"user"}]"""), "missing_content", "input[0].content" },
        { Req("""[{"role":"user","content":7}]"""), "invalid_content", "input[0].content" },
        { Req("""[{"role":"user","content":[]}]"""), "empty_content", "input[0].content" },
    };

    public static TheoryData<string, string, string?> RoleAndModalityProblems => new()
    {
        { Req($$$"""[{"role":"user","content":"q"},{"role":"assistant","content":[{{{Audio(WavUrl, "wav")}}}]}]"""), "non_text_content", "input[1].content[0].type" },
        { Req($$$"""[{"role":"assistant","content":[{{{Text("a")}}},{{{Image(PngUrl)}}}]},{"role":"user","content":"q"}]"""), "non_text_content", "input[0].content[1].type" },
        { Req($$$"""[{"role":"system","content":[{{{Video(Mp4Url)}}}]},{"role":"user","content":"q"}]"""), "non_text_content", "input[0].content[0].type" },
        { Req($$"""[{"role":"system","content":[{"type":"input_image","image_url":"{{PngUrl}}"}]},{"role":"user","content":"q"}]"""), "non_text_content", "input[0].content[0].type" },
        { User(Audio(WavUrl, "wav"), Image(PngUrl)), "multiple_modalities", "input[0].content" },
        { User(Text("t"), Image(PngUrl), Video(Mp4Url)), "multiple_modalities", "input[0].content" },
        { User(Video(Mp4Url), Audio(WavUrl, "wav")), "multiple_modalities", "input[0].content" },
        { User(Image(PngUrl), """{"type":"input_image","image_url":"https://example.com/b.png"}""", Audio(WavUrl, "mp3")), "multiple_modalities", "input[0].content" },
    };

    public static TheoryData<string, string, string?> ContentPartProblems => new()
    {
        { User("42"), "missing_content_type", "input[0].content[0].type" },
        { User("""{"text":"no type"}"""), "missing_content_type", "input[0].content[0].type" },
        { User(Text("ok"), """{"type":null}"""), "missing_content_type", "input[0].content[1].type" },
        { User("""{"type":"input_file","file_id":"f"}"""), "unknown_content_type", "input[0].content[0].type" },
        { User("""{"type":"output_text","text":"only assistants say this"}"""), "unknown_content_type", "input[0].content[0].type" },
        { Req("""[{"role":"assistant","content":[{"type":"refusal","refusal":"no"}]}]"""), "unknown_content_type", "input[0].content[0].type" },
        { User("""{"type":"text"}"""), "missing_text", "input[0].content[0].text" },
        { User("""{"type":"input_text","text":5}"""), "missing_text", "input[0].content[0].text" },
        { Req("""[{"role":"assistant","content":[{"type":"output_text"}]}]"""), "missing_text", "input[0].content[0].text" },
        { User(Text("q"), """{"type":"input_audio"}"""), "missing_input_audio", "input[0].content[1].input_audio" },
        { User(Text("q"), """{"type":"input_audio","input_audio":{"format":"wav"}}"""), "missing_audio_data", "input[0].content[1].input_audio.data" },
        { User(Text("q"), """{"type":"input_audio","input_audio":{"data":"","format":"wav"}}"""), "missing_audio_data", "input[0].content[1].input_audio.data" },
        { User(Text("q"), """{"type":"input_audio","input_audio":{"data":["x"],"format":"wav"}}"""), "missing_audio_data", "input[0].content[1].input_audio.data" },
        { User(Text("q"), $$$"""{"type":"input_audio","input_audio":{"data":"{{{WavUrl}}}"}}"""), "missing_audio_format", "input[0].content[1].input_audio.format" },
        { User(Text("q"), $$$"""{"type":"input_audio","input_audio":{"data":"{{{WavUrl}}}","format":1}}"""), "missing_audio_format", "input[0].content[1].input_audio.format" },
        { User(Text("q"), Audio(WavUrl, "wma")), "unsupported_audio_format", "input[0].content[1].input_audio.format" },
        { User(Text("q"), Audio(WavUrl, "")), "unsupported_audio_format", "input[0].content[1].input_audio.format" },
        { User(Text("q"), """{"type":"image_url"}"""), "missing_image_url", "input[0].content[1].image_url" },
        { User(Text("q"), """{"type":"image_url","image_url":{}}"""), "missing_image_url", "input[0].content[1].image_url.url" },
        { User(Text("q"), """{"type":"image_url","image_url":{"url":""}}"""), "missing_image_url", "input[0].content[1].image_url.url" },
        { User(Text("q"), """{"type":"image_url","image_url":""}"""), "missing_image_url", "input[0].content[1].image_url" },
        { User(Text("q"), """{"type":"input_image"}"""), "missing_image_url", "input[0].content[1].image_url" },
        { User(Text("q"), """{"type":"video_url"}"""), "missing_video_url", "input[0].content[1].video_url" },
        { User(Text("q"), """{"type":"video_url","video_url":{"url":7}}"""), "missing_video_url", "input[0].content[1].video_url.url" },
    };

    public static TheoryData<string, string, string?> MediaPayloadProblems => new()
    {
        { User(Text("q"), Audio("ftp://example.com/a.wav", "wav")), "invalid_url", "input[0].content[1].input_audio.data" },
        { User(Text("q"), Audio("file:///etc/passwd", "wav")), "invalid_url", "input[0].content[1].input_audio.data" },
        { User(Text("q"), Audio("http://", "wav")), "invalid_url", "input[0].content[1].input_audio.data" },
        { User(Text("q"), Image("ftp://example.com/a.png")), "invalid_url", "input[0].content[1].image_url.url" },
        { User(Text("q"), Image("/relative/a.png")), "invalid_url", "input[0].content[1].image_url.url" },
        { User(Text("q"), Image("javascript:alert(1)")), "invalid_url", "input[0].content[1].image_url.url" },
        { User(Text("q"), """{"type":"input_image","image_url":"gopher://example.com/a.png"}"""), "invalid_url", "input[0].content[1].image_url" },
        { User(Text("q"), Video("rtsp://example.com/live")), "invalid_url", "input[0].content[1].video_url.url" },
        { User(Text("q"), Image("data:image/png,iVBORw0KGgo=")), "invalid_data_uri", "input[0].content[1].image_url.url" },
        { User(Text("q"), Audio("data:audio/wav;base64", "wav")), "invalid_data_uri", "input[0].content[1].input_audio.data" },
        { User(Text("q"), Audio("!!not*base64!!", "wav")), "invalid_base64", "input[0].content[1].input_audio.data" },
        { User(Text("q"), Audio("UklGR", "wav")), "invalid_base64", "input[0].content[1].input_audio.data" },
        { User(Text("q"), Audio("data:;base64,", "wav")), "invalid_base64", "input[0].content[1].input_audio.data" },
        { User(Text("q"), Audio("data:;base64,Uk=lGRg==", "wav")), "invalid_base64", "input[0].content[1].input_audio.data" },
        { User(Text("q"), Image("data:image/png;base64,%%%%")), "invalid_base64", "input[0].content[1].image_url.url" },
        { User(Text("q"), Audio(Base64(Flac), "wav")), "audio_format_mismatch", "input[0].content[1].input_audio.data" },
        { User(Text("q"), Audio(Base64(Mp3), "wav")), "audio_format_mismatch", "input[0].content[1].input_audio.data" },
        { User(Text("q"), Audio("data:;base64," + Base64(Flac), "wav")), "audio_format_mismatch", "input[0].content[1].input_audio.data" },
        { User(Text("q"), Audio("data:audio/wav;base64," + Base64(Mp3), "wav")), "audio_format_mismatch", "input[0].content[1].input_audio.data" },
        { User(Audio(WavBase64, "flac")), "audio_format_mismatch", "input[0].content[0].input_audio.data" },
        { User(Audio("data:;base64," + WavBase64, "mp3")), "audio_format_mismatch", "input[0].content[0].input_audio.data" },
        { User(Audio("data:audio/wav;base64," + WavBase64, "ogg")), "audio_format_mismatch", "input[0].content[0].input_audio.data" },
        { User(Audio(WavBase64, "aac")), "audio_format_mismatch", "input[0].content[0].input_audio.data" },
        { User(Audio(Base64(Mp3), "flac")), "audio_format_mismatch", "input[0].content[0].input_audio.data" },
        { User(Audio(Base64("RIFF\0\0\0\0AVI "u8.ToArray()), "wav")), "audio_format_mismatch", "input[0].content[0].input_audio.data" },
    };

    public static TheoryData<string, string, string?> OutputOptionProblems => new()
    {
        { Req("\"hi\"", "\"modalities\":[\"audio\"]"), "invalid_modalities", "modalities" },
        { Req("\"hi\"", "\"modalities\":[]"), "invalid_modalities", "modalities" },
        { Req("\"hi\"", "\"modalities\":\"text\""), "invalid_modalities", "modalities" },
        { Req("\"hi\"", "\"modalities\":[\"text\",\"text\"]"), "invalid_modalities", "modalities" },
        { Req("\"hi\"", "\"modalities\":[\"text\",\"audio\",\"audio\"]"), "invalid_modalities", "modalities" },
        { Req("\"hi\"", "\"modalities\":[\"text\",\"image\"]"), "invalid_modalities", "modalities" },
        { Req("\"hi\"", "\"modalities\":[\"text\",1]"), "invalid_modalities", "modalities" },
        { Req("\"hi\"", "\"modalities\":[null]"), "invalid_modalities", "modalities" },
        { Req("\"hi\"", "\"modalities\":[[\"text\"]]"), "invalid_modalities", "modalities" },
        { Req("\"hi\"", "\"enable_thinking\":true"), "thinking_not_supported", "enable_thinking" },
        { Req("\"hi\"", "\"enable_thinking\":true,\"modalities\":[\"text\"]"), "thinking_not_supported", "enable_thinking" },
        { Req("\"hi\"", "\"audio\":{\"voice\":\"Cherry\"}"), "unknown_voice", "audio.voice" },
        { Req("\"hi\"", "\"modalities\":[\"text\",\"audio\"],\"audio\":{\"voice\":\"Tinna\",\"format\":\"wav\"}"), "unknown_voice", "audio.voice" },
        { Req("\"hi\"", "\"audio\":{\"voice\":\"\"}"), "unknown_voice", "audio.voice" },
        { Req("\"hi\"", "\"audio\":{\"voice\":7}"), "invalid_voice", "audio.voice" },
        { Req("\"hi\"", "\"audio\":{\"format\":\"mp3\"}"), "unsupported_output_audio_format", "audio.format" },
        { Req("\"hi\"", "\"audio\":{\"voice\":\"Tina\",\"format\":\"WAVE\"}"), "unsupported_output_audio_format", "audio.format" },
        { Req("\"hi\"", "\"audio\":{\"format\":1}"), "unsupported_output_audio_format", "audio.format" },
        { Req("\"hi\"", "\"audio\":\"Tina\""), "invalid_audio", "audio" },
        { Req("\"hi\"", "\"stream\":\"yes\""), "invalid_stream", "stream" },
        { Req("\"hi\"", "\"stream_options\":true"), "invalid_stream_options", "stream_options" },
    };

    [Theory, MemberData(nameof(MalformedDocuments))]
    public void MalformedDocument_Returns400(string body, string code, string? param) => AssertRefused(body, 400, code, param);

    [Theory, MemberData(nameof(UndecodableStrings))]
    public void LoneSurrogateEscape_Returns400InvalidJson(string body, string code, string? param) => AssertRefused(body, 400, code, param);

    [Theory]
    [InlineData(new byte[] { 0xC3 })]
    [InlineData(new byte[] { 0xFF, 0xFE })]
    [InlineData(new byte[] { 0xED, 0xA0, 0x80 })] // a surrogate encoded as UTF-8 (CESU)
    [InlineData(new byte[] { 0xF4, 0x90, 0x80, 0x80 })] // above U+10FFFF
    public void InvalidUtf8InsideAString_Returns400InvalidJson(byte[] bad)
    {
        foreach (var template in new[] { Req("\"hi\"", "\"audio\":{\"voice\":\"Ti|na\"}"), Req("\"a|b\""), User(Audio(WavUrl, "wa|v")) })
        {
            var cut = template.IndexOf('|', StringComparison.Ordinal);
            byte[] body = [.. Encoding.UTF8.GetBytes(template[..cut]), .. bad, .. Encoding.UTF8.GetBytes(template[(cut + 1)..])];
            var error = Assert.IsType<GatewayError>(Validator.Validate(body, TestCatalog.AnyModelTenant).Sides().Error);
            Assert.Equal((400, "invalid_json"), (error.Status, error.Code));
        }
    }

    [Fact]
    public void ValidSurrogatePairEscape_IsAccepted() =>
        Accept(Req("\"\\ud83c\\udf89 party\"", "\"audio\":{\"voice\":\"Tina\"},\"x\\ud83c\\udf89\":1"));

    [Theory, MemberData(nameof(ModelProblems))]
    public void MissingOrUnknownModel_Returns400OnModel(string body, string code, string? param) => AssertRefused(body, 400, code, param);

    [Theory, MemberData(nameof(InputProblems))]
    public void MissingEmptyOrMistypedInput_Returns400WithPath(string body, string code, string? param) => AssertRefused(body, 400, code, param);

    [Theory, MemberData(nameof(RoleAndModalityProblems))]
    public void MediaOutsideUserOrSecondModality_Returns400WithPath(string body, string code, string? param) => AssertRefused(body, 400, code, param);

    [Theory, MemberData(nameof(ContentPartProblems))]
    public void UnknownPartTypeOrMissingPayload_Returns400WithPath(string body, string code, string? param) => AssertRefused(body, 400, code, param);

    [Theory, MemberData(nameof(MediaPayloadProblems))]
    public void BadUrlBase64OrAudioBytes_Returns400WithPath(string body, string code, string? param) => AssertRefused(body, 400, code, param);

    [Theory, MemberData(nameof(OutputOptionProblems))]
    public void BadModalitiesThinkingVoiceOrFormat_Returns400WithPath(string body, string code, string? param) => AssertRefused(body, 400, code, param);

    [Fact]
    public void ModelNotAllowedForTenant_Returns400OnModel()
    {
        var tenant = new TenantContext("narrow", "key-n", ["some-other-model"], new TenantLimits());
        var error = Refuse(Req("\"hi\""), tenant);
        Assert.Equal(("model_not_allowed", "model", 400), (error.Code, error.Param, error.Status));
    }

    [Fact]
    public void ModelAllowedForTenant_IsAccepted()
    {
        var tenant = new TenantContext("narrow", "key-n", ["some-other-model", TestCatalog.Model], new TenantLimits());
        Assert.NotNull(Validator.Validate(Encoding.UTF8.GetBytes(Req("\"hi\"")), tenant).Sides().Value);
    }

    [Fact]
    public void UnknownVoice_Returns400WithNearestAndEveryValidVoice()
    {
        var error = Refuse(Req("\"hi\"", "\"audio\":{\"voice\":\"Tinna\"}"));
        Assert.Contains("'Tina'", error.Message, StringComparison.Ordinal);
        var model = TestCatalog.Load().Find(TestCatalog.Model)!; // the shipped catalogue serves this model
        Assert.Equal(55, model.VoiceNames.Count);
        Assert.All(model.VoiceNames, voice => Assert.Contains(voice, error.Message, StringComparison.Ordinal));
    }

    [Fact]
    public void UnknownVoiceFarFromEveryName_SuggestsNothingButListsVoices()
    {
        var error = Refuse(Req("\"hi\"", "\"audio\":{\"voice\":\"Xqzzyvwpk\"}"));
        Assert.DoesNotContain("Did you mean", error.Message, StringComparison.Ordinal);
        Assert.Contains("Serena", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(10_485_760 - 4, false)]
    [InlineData(10_485_760, true)]
    [InlineData(10_485_760 + 4, true)]
    public void InlineBase64AtOrAboveTenMegabytes_Returns413(int base64Length, bool tooLarge)
    {
        // A real WAV head, then zero samples: valid base64 of exactly the given length.
        var payload = Convert.ToBase64String(Fixtures.QuestionWav().AsSpan(0, 12)) + new string('A', base64Length - 16);
        foreach (var data in new[] { payload, "data:;base64," + payload, "data:audio/wav;base64," + payload })
        {
            var outcome = Validate(User(Text("q"), Audio(data, "wav")));
            if (!tooLarge)
            {
                Assert.Null(outcome.Error);
                continue;
            }
            var error = Assert.IsType<GatewayError>(outcome.Error);
            Assert.Equal((413, "invalid_request_error", "inline_media_too_large", "input[0].content[1].input_audio.data"),
                (error.Status, error.Type, error.Code, error.Param));
            Assert.DoesNotContain(payload[..64], error.Message, StringComparison.Ordinal);
        }
    }

    [Fact]
    public void InlineImageAtTenMegabytes_Returns413()
    {
        var error = Refuse(User(Text("q"), Image("data:image/png;base64," + new string('A', 10_485_760))));
        Assert.Equal((413, "inline_media_too_large", "input[0].content[1].image_url.url"), (error.Status, error.Code, error.Param));
    }

    [Theory]
    [InlineData("bare")]
    [InlineData("data:;base64,")]
    [InlineData("data:audio/wav;base64,")]
    [InlineData("DATA:audio/x-wav;BASE64,")]
    public void RealWavDeclaredAsWav_IsAcceptedInEveryInlineForm(string form)
    {
        var data = (form == "bare" ? "" : form) + WavBase64;
        var body = User(Text("What is this tone?"), Audio(data, "wav"));
        var request = Accept(body);
        using var sent = JsonDocument.Parse(request.UpstreamBody);
        var audio = sent.RootElement.GetProperty("input")[0].GetProperty("content")[1].GetProperty("input_audio");
        Assert.Equal(data, audio.GetProperty("data").GetString());
        Assert.Equal("wav", audio.GetProperty("format").GetString());
    }

    internal static (ValidatedRequest? Value, GatewayError? Error) Validate(string body, TenantContext? tenant = null) =>
        Validator.Validate(Encoding.UTF8.GetBytes(body), tenant ?? TestCatalog.AnyModelTenant).Sides();

    internal static ValidatedRequest Accept(string body)
    {
        var outcome = Validate(body);
        Assert.True(outcome.Error is null, $"refused: {outcome.Error?.Code} {outcome.Error?.Param} {outcome.Error?.Message}");
        return Assert.IsType<ValidatedRequest>(outcome.Value);
    }

    private static GatewayError Refuse(string body, TenantContext? tenant = null)
    {
        var outcome = Validate(body, tenant);
        Assert.Null(outcome.Value);
        return Assert.IsType<GatewayError>(outcome.Error);
    }

    private static void AssertRefused(string body, int status, string code, string? param)
    {
        var error = Refuse(body);
        Assert.Equal((status, "invalid_request_error", code, param), (error.Status, error.Type, error.Code, error.Param));
        Assert.False(string.IsNullOrWhiteSpace(error.Message));
        // Contract 4: a message never echoes a base64 payload.
        Assert.DoesNotContain(WavBase64[..40], error.Message, StringComparison.Ordinal);
    }
}
