using System.Runtime.InteropServices;
using System.Text.Json;
using OmniGateway.Catalog;
using OmniGateway.Errors;

namespace OmniGateway.Validation;

/// <summary>The per-message rules of contract 3.2: roles, content part types, payloads and media checks.</summary>
internal static class MessageRules
{
    [Flags]
    private enum Modality { None = 0, Audio = 1, Image = 2, Video = 4 }

    /// <param name="facts">What a streamed body's scan already settled (payloads free of escapes, lengths a skeleton left out); default: nothing.</param>
    public static GatewayError? Validate(JsonElement message, string path, ServedModel model, in ScanFacts facts = default)
    {
        if (message.ValueKind != JsonValueKind.Object)
            return GatewayErrors.BadRequest("invalid_message", $"Each item of 'input' must be a message object {{\"role\":…,\"content\":…}}, not a {RequestValidator.Describe(message)}.", path);
        if (!message.TryGetProperty("role", out var role) || role.ValueKind != JsonValueKind.String || !RequestValidator.IsRole(role))
            return GatewayErrors.BadRequest("invalid_role", "A message's 'role' must be \"user\", \"assistant\" or \"system\".", path + ".role");
        var isUser = role.ValueEquals("user"u8);

        if (!message.TryGetProperty("content", out var content) || content.ValueKind == JsonValueKind.Null)
            return GatewayErrors.BadRequest("missing_content", "The message has no 'content'; send a string or an array of content parts.", path + ".content");
        if (content.ValueKind == JsonValueKind.String)
            return null;
        if (content.ValueKind != JsonValueKind.Array)
            return GatewayErrors.BadRequest("invalid_content", "A message's 'content' must be a string or an array of content parts.", path + ".content");
        if (content.GetArrayLength() == 0)
            return GatewayErrors.BadRequest("empty_content", "The message's 'content' array is empty; add at least one part.", path + ".content");

        var modalities = Modality.None;
        var index = 0;
        foreach (var part in content.EnumerateArray())
        {
            var partPath = $"{path}.content[{index++}]";
            if (part.ValueKind != JsonValueKind.Object || !part.TryGetProperty("type", out var type) || type.ValueKind != JsonValueKind.String)
                return GatewayErrors.BadRequest("missing_content_type", "Each content part needs a string 'type', e.g. {\"type\":\"text\",\"text\":\"…\"}.", partPath + ".type");

            if (type.ValueEquals("text"u8) || type.ValueEquals("input_text"u8) || (!isUser && type.ValueEquals("output_text"u8)))
            {
                if (!part.TryGetProperty("text", out var text) || text.ValueKind != JsonValueKind.String)
                    return GatewayErrors.BadRequest("missing_text", "A text part needs a string 'text'.", partPath + ".text");
                continue;
            }
            if (!isUser)
            {
                return KnownMediaType(type)
                    ? GatewayErrors.BadRequest("non_text_content",
                        $"{Capitalised(role.GetString()!)} messages may hold text only; move the media into a user message.", partPath + ".type")
                    : UnknownType(type, partPath, isUser);
            }

            GatewayError? error;
            Modality modality;
            if (type.ValueEquals("input_audio"u8)) { modality = Modality.Audio; error = ValidateAudio(part, partPath, model, facts); }
            else if (type.ValueEquals("image_url"u8) || type.ValueEquals("input_image"u8)) { modality = Modality.Image; error = ValidateUrlPart(part, "image_url", partPath, model, facts); }
            else if (type.ValueEquals("video_url"u8)) { modality = Modality.Video; error = ValidateUrlPart(part, "video_url", partPath, model, facts); }
            else return UnknownType(type, partPath, isUser);
            if (error is not null) return error;

            modalities |= modality;
            if (modalities is not (Modality.None or Modality.Audio or Modality.Image or Modality.Video))
                return GatewayErrors.BadRequest("multiple_modalities",
                    "A user message may hold text plus one other modality (audio, image or video). Split the media across separate user messages.", path + ".content");
        }
        return null;
    }


    private static GatewayError? ValidateAudio(JsonElement part, string path, ServedModel model, in ScanFacts facts)
    {
        if (!part.TryGetProperty("input_audio", out var audio) || audio.ValueKind != JsonValueKind.Object)
            return GatewayErrors.BadRequest("missing_input_audio", "An input_audio part needs an 'input_audio' object {\"data\":…,\"format\":…}.", path + ".input_audio");
        if (!audio.TryGetProperty("data", out var data) || data.ValueKind != JsonValueKind.String || data.RawLength() == 0)
            return GatewayErrors.BadRequest("missing_audio_data", "Set 'input_audio.data' to an http(s) URL or base64 audio.", path + ".input_audio.data");
        if (!audio.TryGetProperty("format", out var formatElement) || formatElement.ValueKind != JsonValueKind.String)
            return GatewayErrors.BadRequest("missing_audio_format", $"Set 'input_audio.format' to one of: {string.Join(", ", model.Options.InputAudioFormats)}.", path + ".input_audio.format");
        var format = formatElement.GetString()!.ToLowerInvariant(); // String element
        if (!model.Options.InputAudioFormats.Contains(format, StringComparer.Ordinal))
            return GatewayErrors.BadRequest("unsupported_audio_format",
                $"Audio format '{GatewayErrors.Truncate(format, 16)}' is not accepted by '{model.Id}'. Use one of: {string.Join(", ", model.Options.InputAudioFormats)}.", path + ".input_audio.format");
        return ValidatePayload(data, path + ".input_audio.data", model, format, facts);
    }

    private static GatewayError? ValidateUrlPart(JsonElement part, string field, string path, ServedModel model, in ScanFacts facts)
    {
        if (!part.TryGetProperty(field, out var value))
            return GatewayErrors.BadRequest("missing_" + field, $"This part needs '{field}': a URL string or {{\"url\":…}}.", path + "." + field);
        var param = path + "." + field;
        if (value.ValueKind == JsonValueKind.Object)
        {
            if (!value.TryGetProperty("url", out var url)) return GatewayErrors.BadRequest("missing_" + field, $"Set '{field}.url'.", param + ".url");
            value = url;
            param += ".url";
        }
        if (value.ValueKind != JsonValueKind.String || value.RawLength() == 0)
            return GatewayErrors.BadRequest("missing_" + field, $"'{field}' must be an http(s) URL or a data: URI.", param);
        return ValidatePayload(value, param, model, audioFormat: null, facts);
    }

    /// <summary>URL or inline base64. Base64 text is checked in place and only its head is decoded.</summary>
    private static GatewayError? ValidatePayload(JsonElement value, string param, ServedModel model, string? audioFormat, in ScanFacts facts)
    {
        var utf8 = InlineMedia.Utf8(value, facts.MayHoldEscapes, out _);
        switch (InlineMedia.Classify(utf8, out var base64))
        {
            case InlineMedia.Kind.Url:
                return null;
            case InlineMedia.Kind.BadUrl:
                return GatewayErrors.BadRequest("invalid_url", "Media URLs must be absolute http:// or https:// URLs.", param);
            case InlineMedia.Kind.BadDataUri:
                return GatewayErrors.BadRequest("invalid_data_uri", "A data: URI must have the form data:[<mime>];base64,<data>.", param);
        }
        if (audioFormat is null && !utf8.StartsWith("data:"u8) && !utf8.StartsWith("DATA:"u8))
            return GatewayErrors.BadRequest("invalid_url", "Image and video must be an absolute http(s) URL or a data:<mime>;base64,… URI.", param);
        var base64Length = facts.Length(base64); // a streamed body's skeleton holds less of it than was sent
        if (base64Length >= model.Options.MaxInlineBase64Bytes)
            return GatewayErrors.TooLarge("inline_media_too_large",
                $"Inline base64 media must be under {model.Options.MaxInlineBase64Bytes} bytes of base64 text (this one is {base64Length}). Host the file and send its http(s) URL instead.", param);
        if (!InlineMedia.IsValidBase64(base64))
            return GatewayErrors.BadRequest("invalid_base64", "The inline media is not valid base64. Send standard base64 (optionally as data:<mime>;base64,…) or an http(s) URL.", param);
        if (audioFormat is not null)
        {
            Span<byte> head = stackalloc byte[18];
            var length = InlineMedia.DecodeHead(base64, head);
            if (!InlineMedia.MatchesFormat(audioFormat, head[..length]))
                return GatewayErrors.BadRequest("audio_format_mismatch",
                    $"The inline audio's bytes are not {audioFormat.ToUpperInvariant()}. Set 'input_audio.format' to the file's real format or convert the file.", param);
        }
        return null;
    }

    private static bool KnownMediaType(JsonElement type) =>
        type.ValueEquals("input_audio"u8) || type.ValueEquals("image_url"u8) || type.ValueEquals("input_image"u8) || type.ValueEquals("video_url"u8);

    private static GatewayError UnknownType(JsonElement type, string path, bool isUser) =>
        GatewayErrors.BadRequest("unknown_content_type",
            $"Content part type '{GatewayErrors.Truncate(type.GetString()!, 32)}' is not known. Use " +
            ContentVocabulary.OneOf(isUser ? ContentVocabulary.UserPartTypes : ContentVocabulary.TextPartTypes) + ".",
            path + ".type");

    private static string Capitalised(string role) => char.ToUpperInvariant(role[0]) + role[1..];

    /// <summary>A string's length as sent (escapes undecoded): only whether it is zero matters, so nothing is decoded.</summary>
    private static int RawLength(this JsonElement element) =>
        element.ValueKind == JsonValueKind.String ? JsonMarshal.GetRawUtf8Value(element).Length - 2 : 0;
}
