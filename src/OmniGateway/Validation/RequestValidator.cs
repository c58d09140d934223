using System.Runtime.InteropServices;
using System.Text.Json;
using OmniGateway.Catalog;
using OmniGateway.Errors;
using OmniGateway.Tenants;

namespace OmniGateway.Validation;

/// <summary>
/// Contract 3.2 and 3.3: refuses what the upstream would fail on (above all unknown voices, which it
/// answers with an empty 200) and writes the body to forward. The body is parsed once and written once;
/// unknown fields are copied with <see cref="JsonElement.WriteTo"/> so nothing the caller sent is lost.
/// </summary>
public sealed class RequestValidator(ModelCatalog catalog)
{

    /// <param name="tagsHeader">The <c>x-omnigateway-tags</c> header, merged with the body's <c>metadata</c> into the record's tags.</param>
    /// <param name="forwarded">
    /// The members a streamed body's first try has sent already (<see cref="StreamedRequestBody"/>): the body written is
    /// then the rest (<see cref="ValidatedRequest.UpstreamBodyIsRest"/>). Only when they end on a member boundary.
    /// </param>
    public Refusable<ValidatedRequest> Validate(ReadOnlyMemory<byte> body, TenantContext tenant, string? tagsHeader = null, ForwardableMembers? forwarded = null)
    {
        // JsonDocument checks string contents lazily: GetString on invalid UTF-8 would throw (a 500)
        // long after parsing, and such bytes must not be forwarded either. One vectorised pass settles it.
        if (forwarded is not { KnownValidUtf8: true } && !System.Text.Unicode.Utf8.IsValid(body.Span))
            return GatewayErrors.BadRequest("invalid_json", "The request body is not valid UTF-8. Send JSON encoded as UTF-8.");
        // The members sent ahead count only where the scan followed them to a member boundary: the rest is then written
        // from the document, and the payload bytes the scan checked are left out of what is parsed (BodySkeleton), so what
        // is left to do after a 9 MiB body's last byte is parsing the rest of it.
        var sentAhead = forwarded is { EndsOnMemberBoundary: true } ? forwarded : null;
        using var skeleton = sentAhead is null ? null : BodySkeleton.Of(body.Span, sentAhead);
        var parsed = skeleton?.Memory ?? body;
        JsonDocument document;
        try
        {
            // Duplicates refused: rules read one "input" (the last), the upstream's parser might read the
            // other, and both would be forwarded — a way round every rule.
            document = JsonDocument.Parse(parsed, new JsonDocumentOptions { MaxDepth = 64, AllowDuplicateProperties = false });
        }
        catch (Exception exception) when (exception is JsonException or InvalidOperationException)
        {
            // InvalidOperationException: the duplicate check decodes member names, and "\udc00" is not text.
            return GatewayErrors.BadRequest("invalid_json",
                "The request body is not valid JSON, or names a member twice in one object. Send a JSON object such as {\"model\":\"…\",\"input\":\"Hello\"}.");
        }
        using (document)
        {
            if (forwarded is not { KnownFreeOfEscapes: true } && HasUndecodableEscape(document.RootElement))
                return GatewayErrors.BadRequest("invalid_json",
                    "The request body holds a \\u escape that is not text (a lone UTF-16 surrogate such as \\ud800). Send valid Unicode.");
            if (MemberNames.Check(document.RootElement) is { } caseTwin) return caseTwin;
            return Validate(document.RootElement, tenant, body.Span, tagsHeader, sentAhead, new ScanFacts(sentAhead, skeleton));
        }
    }

    /// <summary>
    /// <c>"\ud800"</c> is valid JSON grammar but not text: JsonElement throws when such a string is read,
    /// which every later rule (and the writer) may do. Only escaped strings are decoded, so this is cheap.
    /// </summary>
    private static bool HasUndecodableEscape(JsonElement element)
    {
        switch (element.ValueKind)
        {
            case JsonValueKind.Object:
                foreach (var property in element.EnumerateObject())
                {
                    if (JsonMarshal.GetRawUtf8PropertyName(property).IndexOf((byte)'\\') >= 0 && !Decodes(property.Value, property)) return true;
                    if (HasUndecodableEscape(property.Value)) return true;
                }
                return false;
            case JsonValueKind.Array:
                foreach (var item in element.EnumerateArray())
                {
                    if (HasUndecodableEscape(item)) return true;
                }
                return false;
            case JsonValueKind.String:
                return JsonMarshal.GetRawUtf8Value(element).IndexOf((byte)'\\') >= 0 && !Decodes(element, null);
            default:
                return false;
        }
    }

    /// <summary>Decodes the property's name when given, else the string value.</summary>
    private static bool Decodes(JsonElement value, JsonProperty? property)
    {
        try
        {
            _ = property is { } p ? p.Name : value.GetString();
            return true;
        }
        catch (InvalidOperationException)
        {
            return false;
        }
    }

    /// <param name="body">The body as sent (the document may have been parsed from its skeleton: <paramref name="facts"/>).</param>
    private Refusable<ValidatedRequest> Validate(JsonElement root, TenantContext tenant, ReadOnlySpan<byte> body, string? tagsHeader, ForwardableMembers? forwarded,
        in ScanFacts facts)
    {
        var bodyLength = body.Length;
        if (root.ValueKind != JsonValueKind.Object)
            return GatewayErrors.BadRequest("invalid_body", "The request body must be a JSON object, not a " + Describe(root) + ".");

        // A background response would run on after this stream closes, outside the relay and the ledger.
        if (root.TryGetProperty("background", out var background) && background.ValueKind is not (JsonValueKind.False or JsonValueKind.Null))
            return GatewayErrors.BadRequest("background_not_supported",
                "'background' must be false or absent: the gateway streams every response and records its usage as it ends, so background responses are not offered.", "background");

        // Model first: every other rule depends on its catalogue entry.
        if (!root.TryGetProperty("model", out var modelElement) || modelElement.ValueKind != JsonValueKind.String)
            return GatewayErrors.BadRequest("missing_model", $"Set 'model' to one of: {string.Join(", ", catalog.Models.Select(m => m.Id))}.", "model");
        if (catalog.Find(modelElement) is not { } model)
            return GatewayErrors.BadRequest("model_not_found",
                $"Model '{GatewayErrors.Truncate(modelElement.GetString()!)}' is not served by this gateway. Use one of: {string.Join(", ", catalog.Models.Select(m => m.Id))}.", "model");
        if (!tenant.MayUse(model.Id))
            return GatewayErrors.BadRequest("model_not_allowed",
                $"Your tenant may not use model '{model.Id}'. Allowed: {string.Join(", ", tenant.AllowedModels)}.", "model");

        if (ValidateInput(root, model, facts) is { } inputError) return inputError;

        var (tags, tagError) = Usage.RecordTags.Read(root, tagsHeader);
        if (tagError is not null) return tagError;

        var clientWantsStream = false;
        if (root.TryGetProperty("stream", out var stream))
        {
            if (stream.ValueKind is not (JsonValueKind.True or JsonValueKind.False or JsonValueKind.Null))
                return GatewayErrors.BadRequest("invalid_stream", "'stream' must be true or false.", "stream");
            clientWantsStream = stream.ValueKind == JsonValueKind.True;
        }
        if (root.TryGetProperty("stream_options", out var streamOptions) && streamOptions.ValueKind is not (JsonValueKind.Object or JsonValueKind.Null))
            return GatewayErrors.BadRequest("invalid_stream_options", "'stream_options' must be an object, e.g. {\"include_usage\":true}.", "stream_options");

        long? requestedMaxOutput = null;
        if (root.TryGetProperty("max_output_tokens", out var maxOutput) && maxOutput.ValueKind != JsonValueKind.Null)
        {
            if (maxOutput.ValueKind != JsonValueKind.Number || !maxOutput.TryGetInt64(out var tokens) || tokens < 1)
                return GatewayErrors.BadRequest("invalid_max_output_tokens", "'max_output_tokens' must be a positive integer such as 1024.", "max_output_tokens");
            requestedMaxOutput = tokens;
        }

        var thinking = root.TryGetProperty("enable_thinking", out var thinkingElement) && thinkingElement.ValueKind == JsonValueKind.True;
        if (thinking && !model.Options.SupportsThinking)
            return GatewayErrors.BadRequest("thinking_not_supported",
                $"Model '{model.Id}' has no thinking mode. Remove 'enable_thinking'.", "enable_thinking");

        // Modalities: explicit, or the model's default (text only in thinking mode, which cannot speak).
        bool wantsAudio;
        if (root.TryGetProperty("modalities", out var modalities) && modalities.ValueKind != JsonValueKind.Null)
        {
            if (!TryReadModalities(modalities, out wantsAudio))
                return GatewayErrors.BadRequest("invalid_modalities", "'modalities' must be [\"text\"] or [\"text\",\"audio\"].", "modalities");
            if (wantsAudio && thinking)
                return GatewayErrors.BadRequest("thinking_with_audio",
                    "Thinking mode answers in text only. Set 'modalities' to [\"text\"] or remove 'enable_thinking'.", "modalities");
        }
        else
        {
            wantsAudio = model.DefaultsToAudio && !thinking;
        }

        string? voice = null;
        var outputFormat = model.DefaultOutputFormat;
        root.TryGetProperty("audio", out var audio);
        if (wantsAudio)
        {
            voice = model.DefaultVoice;
            if (audio.ValueKind is not (JsonValueKind.Undefined or JsonValueKind.Null))
            {
                if (audio.ValueKind != JsonValueKind.Object)
                    return GatewayErrors.BadRequest("invalid_audio", "'audio' must be an object such as {\"voice\":\"Tina\",\"format\":\"wav\"}.", "audio");
                if (audio.TryGetProperty("voice", out var voiceElement) && voiceElement.ValueKind != JsonValueKind.Null)
                {
                    if (voiceElement.ValueKind != JsonValueKind.String)
                        return GatewayErrors.BadRequest("invalid_voice", "'audio.voice' must be a voice name string.", "audio.voice");
                    if (model.FindVoice(voiceElement) is not { } found)
                    {
                        var given = voiceElement.GetString()!; // String element
                        return GatewayErrors.UnknownVoice("audio.voice", given, model.Id, model.SuggestVoice(given));
                    }
                    voice = found.Name;
                }
                if (audio.TryGetProperty("format", out var formatElement) && formatElement.ValueKind != JsonValueKind.Null)
                {
                    if (formatElement.ValueKind != JsonValueKind.String || OneOf(formatElement, model.Options.OutputAudioFormats) is not { } chosen)
                        return GatewayErrors.BadRequest("unsupported_output_audio_format",
                            $"'audio.format' must be one of: {string.Join(", ", model.Options.OutputAudioFormats)}.", "audio.format");
                    outputFormat = chosen;
                }
            }
            if (voice is null)
                return GatewayErrors.BadRequest("missing_voice", $"Model '{model.Id}' has no default voice; set 'audio.voice'.", "audio.voice");
        }

        // The output cap is forwarded whenever admission may have to lower it to fit a budget (RateLimiting/).
        var maxOutputTokens = Math.Min(requestedMaxOutput ?? long.MaxValue, model.Options.MaxOutputTokens);
        var forwardMaxOutput = requestedMaxOutput is not null || tenant.Limits.DailyTokens is not null || tenant.Limits.MonthlyTokens is not null || tenant.Limits.HasCostBudget;
        var (upstreamBody, maxOutputSlot) = RequestEnricher.WriteUpstreamBody(root, wantsAudio, voice, outputFormat, bodyLength, forwardMaxOutput ? maxOutputTokens : null,
            body, forwarded);
        return new ValidatedRequest(model, clientWantsStream, wantsAudio, voice, wantsAudio ? "text,audio" : "text", upstreamBody.Memory)
        {
            BodyBuffer = upstreamBody,
            InputTokenEstimate = RateLimiting.InputEstimate.Tokens(root, bodyLength, model.Options.InputEstimate, facts),
            MaxOutputTokens = maxOutputTokens,
            MaxOutputTokensSlot = maxOutputSlot,
            UpstreamBodyIsRest = forwarded is not null,
            Tags = tags,
        };
    }

    private static GatewayError? ValidateInput(JsonElement root, ServedModel model, in ScanFacts facts)
    {
        if (!root.TryGetProperty("input", out var input) || input.ValueKind == JsonValueKind.Null)
            return GatewayErrors.BadRequest("missing_input", "Set 'input' to a string or an array of messages.", "input");
        switch (input.ValueKind)
        {
            case JsonValueKind.String:
                return input.GetString()!.Length == 0 // String element
                    ? GatewayErrors.BadRequest("empty_input", "'input' is an empty string; send the user's text.", "input")
                    : null;
            case JsonValueKind.Array:
                if (input.GetArrayLength() == 0)
                    return GatewayErrors.BadRequest("empty_input", "'input' is an empty array; send at least one message.", "input");
                var index = 0;
                foreach (var message in input.EnumerateArray())
                {
                    if (MessageRules.Validate(message, $"input[{index}]", model, facts) is { } error) return error;
                    index++;
                }
                return null;
            default:
                return GatewayErrors.BadRequest("invalid_input", "'input' must be a string or an array of messages, not a " + Describe(input) + ".", "input");
        }
    }

    private static bool TryReadModalities(JsonElement modalities, out bool audio)
    {
        audio = false;
        if (modalities.ValueKind != JsonValueKind.Array) return false;
        bool text = false, speech = false;
        var count = 0;
        foreach (var item in modalities.EnumerateArray())
        {
            count++;
            // ValueEquals throws on numbers, arrays and objects; a bad item is the caller's 400, not our 500.
            if (item.ValueKind != JsonValueKind.String) return false;
            if (item.ValueEquals("text"u8) && !text) text = true;
            else if (item.ValueEquals("audio"u8) && !speech) speech = true;
            else return false;
        }
        audio = speech;
        return text && count is 1 or 2;
    }

    internal static string Describe(JsonElement element) => element.ValueKind switch
    {
        JsonValueKind.Array => "array",
        JsonValueKind.String => "string",
        JsonValueKind.Number => "number",
        JsonValueKind.True or JsonValueKind.False => "boolean",
        JsonValueKind.Null => "null",
        _ => "object",
    };

    /// <summary>The configured value a JSON string equals, as that value: no string made per call (issue 11).</summary>
    private static string? OneOf(JsonElement value, List<string> allowed)
    {
        foreach (var candidate in allowed)
        {
            if (value.ValueEquals(candidate)) return candidate;
        }
        return null;
    }

    internal static bool IsRole(JsonElement role) => ContentVocabulary.Roles.Any(r => role.ValueEquals(r));
}
