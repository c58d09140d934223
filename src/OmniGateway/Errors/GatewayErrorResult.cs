using System.Reflection;
using Microsoft.AspNetCore.Http.Metadata;

namespace OmniGateway.Errors;

/// <summary>
/// A <see cref="GatewayError"/> as an endpoint's result, so a handler's <c>Results&lt;Ok&lt;T&gt;, …, GatewayErrorResult&gt;</c>
/// names every outcome, and OpenAPI learns the error shape from the type rather than from hand-listed
/// <c>.Produces</c> calls.
/// </summary>
public sealed class GatewayErrorResult(GatewayError error) : IResult, IStatusCodeHttpResult, IEndpointMetadataProvider
{
    /// <summary>
    /// Every status a gateway error can have. One list for every endpoint: which of them a given call can
    /// meet depends on configuration (limits, admin keys, the upstream), not on the handler alone.
    /// </summary>
    private static readonly int[] Statuses =
    [
        StatusCodes.Status400BadRequest, StatusCodes.Status401Unauthorized, StatusCodes.Status403Forbidden,
        StatusCodes.Status404NotFound, StatusCodes.Status409Conflict, StatusCodes.Status413PayloadTooLarge,
        StatusCodes.Status429TooManyRequests, StatusCodes.Status500InternalServerError, StatusCodes.Status502BadGateway,
        StatusCodes.Status503ServiceUnavailable, StatusCodes.Status504GatewayTimeout,
    ];

    public GatewayError Error => error;

    public int? StatusCode => error.Status;

    public Task ExecuteAsync(HttpContext httpContext) => error.WriteAsync(httpContext);

    public static void PopulateMetadata(MethodInfo method, EndpointBuilder builder)
    {
        foreach (var status in Statuses)
            builder.Metadata.Add(new ProducesResponseTypeMetadata(status, typeof(ErrorDocument), ["application/json"]));
    }
}
