using OmniGateway.Tenants;

namespace OmniGateway.Errors;

/// <summary>
/// One Information line per error answer — a refused request as much as a failed one — with what an
/// operator needs to find it: request id, tenant when known, status, code, param, and the reason where the
/// code alone does not say it (why a key failed, say). Never the key, never the body.
/// </summary>
public sealed partial class RefusalLog(ILogger<RefusalLog> logger)
{
    /// <summary><see cref="HttpContext.Items"/> key for a reason the error's code does not carry.</summary>
    public const string ReasonItem = "og:refusal-reason";

    public void Write(HttpContext context, GatewayError error)
    {
        if (!logger.IsEnabled(LogLevel.Information)) return;
        var tenant = context.Features.Get<TenantContext>()?.TenantId;
        var reason = context.Items.TryGetValue(ReasonItem, out var value) ? value as string : null;
        Refused(logger, context.TraceIdentifier, tenant ?? "-", error.Status, error.Code, error.Param ?? "-", reason ?? "-", context.Request.Method, context.Request.Path.Value ?? "");
    }

    [LoggerMessage(EventId = 1100, Level = LogLevel.Information,
        Message = "Refused {RequestId} {Method} {Path}: {Status} {Code} (param {Param}, tenant {TenantId}, reason {Reason})")]
    private static partial void Refused(ILogger logger, string requestId, string tenantId, int status, string code, string param, string reason,
        string method, string path);
}
