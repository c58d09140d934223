using System.Text.Encodings.Web;
using System.Text.Json;

namespace OmniGateway.Tests.Validation;

/// <summary>Small builders for request bodies, so each table row shows only what it is about.</summary>
internal static class Bodies
{
    public const string WavUrl = "https://help-static-aliyun-doc.aliyuncs.com/file-manage-files/zh-CN/20250211/tixcef/cherry.wav";
    public const string PngUrl = "https://example.com/cat.png";
    public const string Mp4Url = "https://example.com/clip.mp4";

    private static readonly JsonSerializerOptions Relaxed = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    /// <summary>The real WAV fixture (RIFF…WAVE, 16 kHz mono) as bare base64.</summary>
    public static readonly string WavBase64 = Convert.ToBase64String(Fixtures.QuestionWav());

    /// <summary>A FLAC stream head: "fLaC" then a STREAMINFO block header.</summary>
    public static readonly byte[] Flac = [.. "fLaC"u8, 0x80, 0x00, 0x00, 0x22, 0x10, 0x00, 0x10, 0x00, 0x00, 0x00, 0x0E, 0x00, 0x2A, 0x33];

    /// <summary>An MP3 head: an ID3v2.4 tag header.</summary>
    public static readonly byte[] Mp3 = [.. "ID3"u8, 0x04, 0x00, 0x00, 0x00, 0x00, 0x00, 0x21, 0xFF, 0xFB, 0x90, 0x64, 0x00, 0x00, 0x00, 0x00];

    public static string Json(string value) => JsonSerializer.Serialize(value, Relaxed);

    public static string Base64(byte[] bytes) => Convert.ToBase64String(bytes);

    /// <summary>A body for the shipped model with the given raw JSON <c>input</c> and extra raw top-level members.</summary>
    public static string Req(string input, string extra = "") =>
        $$"""{"model":"{{TestCatalog.Model}}","input":{{input}}{{(extra.Length > 0 ? "," + extra : "")}}}""";

    /// <summary>One user message holding the given raw JSON parts.</summary>
    public static string User(params string[] parts) => Req($$"""[{"role":"user","content":[{{string.Join(",", parts)}}]}]""");

    public static string Text(string text) => $$"""{"type":"text","text":{{Json(text)}}}""";

    public static string Audio(string data, string format) =>
        $$$"""{"type":"input_audio","input_audio":{"data":{{{Json(data)}}},"format":{{{Json(format)}}}}}""";

    public static string Image(string url) => $$$"""{"type":"image_url","image_url":{"url":{{{Json(url)}}}}}""";

    public static string Video(string url) => $$$"""{"type":"video_url","video_url":{"url":{{{Json(url)}}}}}""";
}
