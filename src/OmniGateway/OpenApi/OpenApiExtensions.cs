using System.Text.Json.Nodes;
using Microsoft.OpenApi;

namespace OmniGateway.OpenApi;

/// <summary>
/// Swagger UI at <c>/swagger</c> and the document at <c>/swagger/v1/swagger.json</c> (contract 1), both
/// anonymous. The catalogue-driven parts (model ids, voices, formats, the example) are filled in by
/// <see cref="GatewaySchemaFilter"/> and <see cref="GatewayOperationFilter"/> from the running
/// configuration, so the document cannot drift from what the validator accepts.
/// </summary>
public static class OpenApiExtensions
{
    public const string DocumentName = "v1";
    public const string BearerSchemeId = "bearer";

    public static IHostApplicationBuilder AddGatewayOpenApi(this IHostApplicationBuilder builder)
    {
        builder.Services.AddEndpointsApiExplorer();
        builder.Services.AddSwaggerGen(options =>
        {
            options.SwaggerDoc(DocumentName, new OpenApiInfo
            {
                Title = "OmniGateway",
                Version = DocumentName,
                Description = "A gateway in front of an SSE-streaming omni model. Authorize with your tenant key, then try POST /v1/responses: " +
                              "the example streams a spoken answer (with no upstream key configured, from the built-in simulator).",
            });
            // HTTP bearer, because that is what Swagger UI's Authorize dialog and OpenAI SDKs send. The gateway
            // also takes a bare Authorization value and x-api-key (contract 2); documenting one form is enough to try it.
            options.AddSecurityDefinition(BearerSchemeId, new OpenApiSecurityScheme
            {
                Type = SecuritySchemeType.Http,
                Scheme = "bearer",
                Description = "Your tenant key (keys issued by the gateway start with og-); /admin/* takes the admin key. " +
                              "Sent as Authorization: Bearer <key>.",
            });
            // The generated schema of a JsonNode property would describe the DOM class, not the JSON it holds.
            options.MapType<JsonNode>(() => new OpenApiSchema());
            options.UseAllOfToExtendReferenceSchemas();
            options.SupportNonNullableReferenceTypes();
            options.NonNullableReferenceTypesAsRequired();
            options.SchemaFilter<GatewaySchemaFilter>();
            options.OperationFilter<GatewayOperationFilter>();
        });
        return builder;
    }

    public static WebApplication MapGatewayOpenApi(this WebApplication app)
    {
        // Anonymous on purpose: the document holds no secret, and a caller needs it before they have a key.
        app.MapSwagger().AllowAnonymous();
        app.MapSwaggerUI("swagger", ui =>
        {
            // Relative to /swagger/index.html, so the UI still finds the document behind a path prefix.
            ui.SwaggerEndpoint($"{DocumentName}/swagger.json", "OmniGateway " + DocumentName);
            ui.DocumentTitle = "OmniGateway API";
            ui.DisplayRequestDuration();
            ui.EnableTryItOutByDefault();
            // No EnablePersistAuthorization: it would keep the tenant key in the browser's localStorage.
        }).AllowAnonymous();
        return app;
    }
}
