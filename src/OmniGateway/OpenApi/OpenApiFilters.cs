using System.ComponentModel;
using System.Reflection;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;
using Microsoft.AspNetCore.Authorization;
using Microsoft.OpenApi;
using OmniGateway.Catalog;
using OmniGateway.Errors;
using OmniGateway.Proxy;
using Swashbuckle.AspNetCore.SwaggerGen;

namespace OmniGateway.OpenApi;

/// <summary>
/// Completes the schemas of the documentation types: descriptions, the shapes a <see cref="JsonNode"/>
/// property may take, and enums read from the <see cref="ModelCatalog"/> on every request for the
/// document, so Swagger UI offers exactly the models and voices the validator accepts.
/// </summary>
internal sealed class GatewaySchemaFilter(ModelCatalog catalog) : ISchemaFilter
{
    public void Apply(IOpenApiSchema schema, SchemaFilterContext context)
    {
        // Only the definitions of our own types; member schemas and references are left as generated.
        if (context.MemberInfo is not null || schema is not OpenApiSchema { Properties: { } properties } definition) return;
        if (context.Type.Namespace is not ("OmniGateway.Proxy" or "OmniGateway.Errors")) return;

        // Swashbuckle ignores [Description]; references carry one only when wrapped in allOf (UseAllOfToExtendReferenceSchemas).
        foreach (var property in context.Type.GetProperties())
        {
            if (property.GetCustomAttribute<DescriptionAttribute>() is { } description
                && properties.TryGetValue(JsonName(property), out var propertySchema) && propertySchema is OpenApiSchema inline)
                inline.Description = description.Description;
        }
        if (context.Type.Namespace == "OmniGateway.Proxy")
        {
            // Unknown fields are forwarded (contract 3.3) and upstream responses relayed whole: nothing here is closed.
            definition.AdditionalPropertiesAllowed = true;
            definition.AdditionalProperties = null;
        }

        var models = catalog.Models.ToArray();
        if (context.Type == typeof(ResponsesRequestDocument))
        {
            Replace(properties, "model", Strings(models.Select(m => m.Id)));
            Replace(properties, "input", OneOf(
                new OpenApiSchema { Type = JsonSchemaType.String, MinLength = 1, Description = "One user text message." },
                ArrayOf(Reference<InputMessageDocument>(context))));
            Replace(properties, "modalities", new OpenApiSchema
            {
                Type = JsonSchemaType.Array,
                Items = Strings(["text", "audio"]),
                MinItems = 1,
                MaxItems = 2,
            });
        }
        else if (context.Type == typeof(AudioOutputDocument))
        {
            Replace(properties, "voice", Strings(models.SelectMany(m => m.VoiceNames)));
            Replace(properties, "format", Strings(models.SelectMany(m => m.Options.OutputAudioFormats)));
        }
        else if (context.Type == typeof(InputMessageDocument))
        {
            Replace(properties, "role", Strings(InputMessageDocument.Roles));
            Replace(properties, "content", OneOf(
                new OpenApiSchema { Type = JsonSchemaType.String, Description = "One text part." },
                ArrayOf(Reference<ContentPartDocument>(context))));
        }
        else if (context.Type == typeof(ContentPartDocument))
        {
            Replace(properties, "type", Strings(ContentPartDocument.Types));
            Replace(properties, "image_url", OneOf(new OpenApiSchema { Type = JsonSchemaType.String }, Reference<MediaUrlDocument>(context)));
            Replace(properties, "video_url", OneOf(new OpenApiSchema { Type = JsonSchemaType.String }, Reference<MediaUrlDocument>(context)));
        }
        else if (context.Type == typeof(InputAudioDocument))
        {
            Replace(properties, "format", Strings(models.SelectMany(m => m.Options.InputAudioFormats)));
        }
        else if (context.Type == typeof(ErrorBody))
        {
            // Always written, as null when no single field is at fault.
            definition.Required ??= new SortedSet<string>(StringComparer.Ordinal);
            definition.Required.Add("param");
        }
    }

    /// <summary>Keeps the description the generic pass put on the property; the new schema brings the shape.</summary>
    private static void Replace(IDictionary<string, IOpenApiSchema> properties, string name, OpenApiSchema replacement)
    {
        if (properties.TryGetValue(name, out var old) && replacement.Description is null) replacement.Description = old.Description;
        properties[name] = replacement;
    }

    private static OpenApiSchema Strings(IEnumerable<string> values) => new()
    {
        Type = JsonSchemaType.String,
        Enum = values.Distinct(StringComparer.Ordinal).Select(v => (JsonNode)JsonValue.Create(v)).ToList(),
    };

    private static OpenApiSchema OneOf(params IOpenApiSchema[] alternatives) => new() { OneOf = [.. alternatives] };

    private static OpenApiSchema ArrayOf(IOpenApiSchema items) => new() { Type = JsonSchemaType.Array, MinItems = 1, Items = items };

    private static IOpenApiSchema Reference<T>(SchemaFilterContext context) =>
        context.SchemaGenerator.GenerateSchema(typeof(T), context.SchemaRepository);

    private static string JsonName(PropertyInfo property) =>
        property.GetCustomAttribute<JsonPropertyNameAttribute>()?.Name ?? property.Name;
}

/// <summary>
/// Per operation: the bearer requirement where a policy or the tenant key filter guards the endpoint, and for
/// <c>POST /v1/responses</c> a request example that works as it stands in Swagger UI's "Try it out".
/// </summary>
internal sealed class GatewayOperationFilter(ModelCatalog catalog) : IOperationFilter
{
    public void Apply(OpenApiOperation operation, OperationFilterContext context)
    {
        var metadata = context.ApiDescription.ActionDescriptor.EndpointMetadata;
        if ((metadata.OfType<IAuthorizeData>().Any() || metadata.OfType<Auth.TenantKeyRequired>().Any()) && !metadata.OfType<IAllowAnonymous>().Any())
        {
            operation.Security ??= [];
            operation.Security.Add(new OpenApiSecurityRequirement
            {
                [new OpenApiSecuritySchemeReference(OpenApiExtensions.BearerSchemeId, context.Document)] = [],
            });
        }

        if (!metadata.OfType<Microsoft.AspNetCore.Http.Metadata.IAcceptsMetadata>().Any(a => a.RequestType == typeof(ResponsesRequestDocument))) return;
        if (operation.RequestBody?.Content?.TryGetValue("application/json", out var body) == true && body is OpenApiMediaType json)
            json.Example = ExampleRequest(catalog);
        if (operation.Responses?.TryGetValue("200", out var ok) == true && ok.Content?.TryGetValue("text/event-stream", out var sse) == true && sse is OpenApiMediaType stream)
        {
            stream.Schema = new OpenApiSchema
            {
                Type = JsonSchemaType.String,
                Description = "Server-Sent Events as the upstream sends them: response.created, response.output_text.delta, response.output_audio.delta … " +
                              "and a final response.completed (or response.incomplete / response.failed) carrying usage. A stream that breaks ends with event: error.",
            };
        }
    }

    /// <summary>The first model that speaks, with its default voice and format: valid for any catalogue.</summary>
    internal static JsonObject ExampleRequest(ModelCatalog catalog)
    {
        var models = catalog.Models.ToArray();
        var model = models.FirstOrDefault(m => m.DefaultVoice is not null) ?? models[0]; // start-up validation guarantees a model
        var example = new JsonObject
        {
            ["model"] = model.Id,
            ["input"] = "Say hello in one sentence.",
            ["stream"] = true,
        };
        if (model.DefaultVoice is { } voice)
        {
            example["modalities"] = new JsonArray("text", "audio");
            example["audio"] = new JsonObject { ["voice"] = voice, ["format"] = model.DefaultOutputFormat };
        }
        else
        {
            example["modalities"] = new JsonArray("text");
        }
        return example;
    }
}
