using System.Text.Json.Serialization;
using Microsoft.AspNetCore.Http.HttpResults;
using OmniGateway.Auth;
using OmniGateway.Errors;

namespace OmniGateway.Catalog;

public static class CatalogApi
{
    public static IEndpointRouteBuilder MapCatalogApi(this IEndpointRouteBuilder app)
    {
        var group = app.MapGroup("/v1").RequireAuthorization(AuthExtensions.TenantPolicy).WithTags("Catalog");
        group.MapGet("/models", ListModels).WithSummary("Models this gateway serves");
        group.MapGet("/voices", ListVoices).WithSummary("Voices a model accepts (all served models without ?model=)");
        return app;
    }

    private static Ok<ListDocument<ModelDocument>> ListModels(HttpContext context, ModelCatalog catalog)
    {
        var tenant = context.GetTenant();
        return TypedResults.Ok(new ListDocument<ModelDocument>(catalog.Models
            .Where(m => tenant.MayUse(m.Id))
            .Select(m => new ModelDocument(m.Id, "model", m.Options.OwnedBy))
            .ToArray()));
    }

    private static Results<Ok<ListDocument<VoiceDocument>>, GatewayErrorResult> ListVoices(string? model, ModelCatalog catalog)
    {
        if (model is not null && catalog.Find(model) is null)
            return GatewayErrors.NotFound("model_not_found",
                $"Model '{GatewayErrors.Truncate(model)}' is not served. Use one of: {string.Join(", ", catalog.Models.Select(m => m.Id))}.").ToResult();
        var models = model is null ? catalog.Models : [catalog.Find(model)!]; // checked above
        return TypedResults.Ok(new ListDocument<VoiceDocument>(models
            .SelectMany(m => m.Options.Voices.Select(v => new VoiceDocument(v.Name, m.Id, v.Languages, v.Verified)))
            .ToArray()));
    }
}

public sealed record ListDocument<T>([property: JsonPropertyName("data")] IReadOnlyList<T> Data)
{
    [JsonPropertyName("object")] public string ObjectType => "list";
}

public sealed record ModelDocument(
    [property: JsonPropertyName("id")] string Id,
    [property: JsonPropertyName("object")] string ObjectType,
    [property: JsonPropertyName("owned_by")] string OwnedBy);

public sealed record VoiceDocument(
    [property: JsonPropertyName("name")] string Name,
    [property: JsonPropertyName("model")] string Model,
    [property: JsonPropertyName("languages")] IReadOnlyList<string> Languages,
    [property: JsonPropertyName("verified")] bool Verified);
