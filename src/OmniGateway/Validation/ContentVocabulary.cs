namespace OmniGateway.Validation;

/// <summary>
/// The message roles and content-part types the gateway accepts: one list, read by the validator, its
/// error messages and the OpenAPI document, so what Swagger offers is what the validator takes.
/// </summary>
public static class ContentVocabulary
{
    public static readonly string[] Roles = ["user", "assistant", "system"];

    /// <summary>A user message: text plus at most one other modality.</summary>
    public static readonly string[] UserPartTypes = ["text", "input_text", "input_audio", "image_url", "input_image", "video_url"];

    /// <summary>Assistant and system messages hold text only.</summary>
    public static readonly string[] TextPartTypes = ["text", "output_text"];

    public static readonly string[] PartTypes = [.. UserPartTypes.Union(TextPartTypes)];

    /// <summary>"a, b or c", as error messages list choices.</summary>
    public static string OneOf(IReadOnlyList<string> choices) =>
        choices.Count == 1 ? choices[0] : string.Join(", ", choices.Take(choices.Count - 1)) + " or " + choices[^1];
}
