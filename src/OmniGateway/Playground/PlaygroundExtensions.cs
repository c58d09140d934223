using Microsoft.AspNetCore.StaticFiles;
using Microsoft.Extensions.FileProviders;
using Microsoft.Net.Http.Headers;

namespace OmniGateway.Playground;

/// <summary>
/// <c>GET /playground</c>: a page for trying the gateway in a browser, served from files embedded in this
/// assembly (no build step, no separate server, nothing loaded from elsewhere — the CSP says so to the browser).
/// </summary>
public static class PlaygroundExtensions
{
    public const string Path = "/playground";

    // Same-origin only; blob: for the answer's WAV. No inline script or style, no framing, no form posts.
    private const string ContentSecurityPolicy =
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; media-src 'self' blob:; " +
        "connect-src 'self'; form-action 'none'; frame-ancestors 'none'; base-uri 'none'";

    private static readonly ManifestEmbeddedFileProvider Files = new(typeof(PlaygroundExtensions).Assembly, "Playground/wwwroot");
    private static readonly FileExtensionContentTypeProvider ContentTypes = new();

    public static IEndpointRouteBuilder MapPlayground(this IEndpointRouteBuilder app)
    {
        var group = app.MapGroup(Path).AllowAnonymous().ExcludeFromDescription();
        group.MapGet("", (HttpContext context) => Serve(context, "index.html"));
        group.MapGet("/{file}", (HttpContext context, string file) => Serve(context, file));
        return app;
    }

    private static IResult Serve(HttpContext context, string name)
    {
        var file = Files.GetFileInfo(name);
        if (!file.Exists || file.IsDirectory || !ContentTypes.TryGetContentType(name, out var contentType))
            return Errors.GatewayErrors.NotFound("not_found", $"The playground has no file '{Errors.GatewayErrors.Truncate(name)}'. Open {Path}.").ToResult();

        var headers = context.Response.Headers;
        headers.ContentSecurityPolicy = ContentSecurityPolicy;
        headers.XContentTypeOptions = "nosniff";
        headers["Referrer-Policy"] = "no-referrer";
        headers["Permissions-Policy"] = "microphone=(self), camera=(), geolocation=()";
        headers.CacheControl = "no-cache"; // revalidated by ETag, so a new gateway version shows at once
        var tag = new EntityTagHeaderValue($"\"{file.LastModified.ToUnixTimeSeconds():x}-{file.Length:x}\"");
        return TypedResults.Stream(file.CreateReadStream(), contentType, lastModified: file.LastModified, entityTag: tag);
    }
}
