using Microsoft.AspNetCore.Diagnostics;
using OmniGateway.Observability;

namespace OmniGateway.Errors;

public static class ErrorsExtensions
{
    public static IHostApplicationBuilder AddGatewayErrors(this IHostApplicationBuilder builder)
    {
        builder.Services.AddExceptionHandler<GatewayExceptionHandler>();
        builder.Services.AddProblemDetails();
        builder.Services.AddSingleton<RefusalLog>();
        return builder;
    }

    /// <summary>Request ids first, then one error shape for exceptions and for bare 404/405s.</summary>
    public static WebApplication UseGatewayErrors(this WebApplication app)
    {
        app.UseMiddleware<RequestIdMiddleware>();
        app.UseExceptionHandler();
        app.UseStatusCodePages(static context =>
        {
            var http = context.HttpContext;
            var error = http.Response.StatusCode switch
            {
                StatusCodes.Status404NotFound => GatewayErrors.NotFound("not_found", $"No endpoint at {http.Request.Method} {http.Request.Path}. See /swagger for the API."),
                StatusCodes.Status405MethodNotAllowed => new GatewayError(405, "invalid_request_error", "method_not_allowed",
                    $"{http.Request.Method} is not allowed on {http.Request.Path}. See /swagger for the API."),
                StatusCodes.Status415UnsupportedMediaType => GatewayErrors.UnsupportedMediaType(),
                _ => null,
            };
            return error?.WriteAsync(http) ?? Task.CompletedTask;
        });
        return app;
    }
}

/// <summary>Malformed HTTP is the caller's 400; anything else is our bug, a 500 in the one error shape.</summary>
internal sealed partial class GatewayExceptionHandler(ILogger<GatewayExceptionHandler> logger) : IExceptionHandler
{
    public async ValueTask<bool> TryHandleAsync(HttpContext httpContext, Exception exception, CancellationToken cancellationToken)
    {
        if (httpContext.RequestAborted.IsCancellationRequested) return true;
        GatewayError error;
        if (exception is BadHttpRequestException bad)
        {
            error = bad.StatusCode == StatusCodes.Status413PayloadTooLarge
                ? GatewayErrors.TooLarge("request_too_large", "The request body is too large.")
                : GatewayErrors.BadRequest("bad_http_request", "The HTTP request was malformed: " + bad.Message);
        }
        else
        {
            Log.Unhandled(logger, exception, httpContext.TraceIdentifier);
            error = GatewayErrors.Internal();
        }
        await error.WriteAsync(httpContext);
        return true;
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 1000, Level = LogLevel.Error, Message = "Unhandled exception in request {RequestId}")]
        public static partial void Unhandled(ILogger logger, Exception exception, string requestId);
    }
}
