using OmniGateway.Catalog;

namespace OmniGateway.Errors;

/// <summary>One factory per error code: status and <c>type</c> are decided here, never at the call site.</summary>
public static class GatewayErrors
{
    private const string InvalidRequest = "invalid_request_error";
    private const string Upstream = "upstream_error";

    public static GatewayError BadRequest(string code, string message, string? param = null) =>
        new(StatusCodes.Status400BadRequest, InvalidRequest, code, message, param);

    public static GatewayError TooLarge(string code, string message, string? param = null) =>
        new(StatusCodes.Status413PayloadTooLarge, InvalidRequest, code, message, param);

    public static GatewayError RequestBodyTimeout(TimeSpan timeout) =>
        new(StatusCodes.Status408RequestTimeout, InvalidRequest, "request_body_timeout",
            $"The request body did not arrive within {timeout.TotalSeconds:0.###} s (Gateway:RequestBodyTimeout). Send it in one go, or send large media by http(s) URL instead of inline base64.")
        { EndsConnection = true };

    public static GatewayError UnsupportedMediaType() =>
        new(StatusCodes.Status415UnsupportedMediaType, InvalidRequest, "unsupported_media_type",
            "Send the request body as JSON with 'Content-Type: application/json'.");

    public static GatewayError NotFound(string code, string message) =>
        new(StatusCodes.Status404NotFound, InvalidRequest, code, message);

    public static GatewayError MissingKey() =>
        new(StatusCodes.Status401Unauthorized, "authentication_error", "missing_api_key",
            "No API key was sent. Send your tenant key as 'Authorization: Bearer <key>' or 'x-api-key: <key>'.");

    public static GatewayError InvalidKey() =>
        new(StatusCodes.Status401Unauthorized, "authentication_error", "invalid_api_key",
            "The API key is not valid (unknown, revoked or its tenant is disabled). Ask the gateway's operator for a valid tenant key.");

    public static GatewayError OriginNotAllowed(string origin, string? tenant) =>
        new(StatusCodes.Status403Forbidden, "permission_error", "origin_not_allowed", tenant is null
            ? $"Origin '{origin}' may not call this gateway from a browser. Add it to Gateway:Cors:AllowedOrigins, or to a tenant's AllowedOrigins."
            : $"Origin '{origin}' is not allowed for {(tenant == "admin" ? "the admin key" : $"tenant '{tenant}'")}. Add it to {(tenant == "admin" ? "" : "the tenant's AllowedOrigins or ")}Gateway:Cors:AllowedOrigins.");

    public static GatewayError Forbidden(string message) =>
        new(StatusCodes.Status403Forbidden, "permission_error", "forbidden", message);

    public static GatewayError RateLimited(string code, string message, int retryAfterSeconds) =>
        new(StatusCodes.Status429TooManyRequests, "rate_limit_error", code, message) { RetryAfterSeconds = Math.Max(1, retryAfterSeconds) };

    public static GatewayError UnknownVoice(string param, string given, string model, VoiceMatch match) =>
        BadRequest("unknown_voice",
            $"Voice '{Truncate(given)}' is not a voice of model '{model}'." +
            (match.Nearest is null ? "" : $" Did you mean '{match.Nearest}'?") +
            $" Valid voices: {string.Join(", ", match.ValidVoices)}. Voice names are matched ignoring case.",
            param);

    public static GatewayError UpstreamEmptyResponse() =>
        new(StatusCodes.Status502BadGateway, Upstream, "upstream_empty_response",
            "The upstream answered 200 with an empty body, which it does when it rejects a request silently (for example an unsupported voice). Nothing was generated; check the request parameters and retry.");

    public static GatewayError UpstreamAuthFailed() =>
        new(StatusCodes.Status502BadGateway, Upstream, "upstream_auth_failed",
            "The upstream refused the gateway's own credentials. This is not your request's fault: tell the gateway's operator to check Upstream:ApiKey.");

    public static GatewayError UpstreamRateLimited(int retryAfterSeconds) =>
        new(StatusCodes.Status429TooManyRequests, "rate_limit_error", "upstream_rate_limited",
            "The upstream is rate limiting the gateway. Retry after the time given in Retry-After.")
        { RetryAfterSeconds = Math.Max(1, retryAfterSeconds) };

    public static GatewayError UpstreamFailure(string message) =>
        new(StatusCodes.Status502BadGateway, Upstream, "upstream_error", message);

    public static GatewayError UpstreamTimeout(string message) =>
        new(StatusCodes.Status504GatewayTimeout, Upstream, "upstream_timeout", message);

    public static GatewayError UpstreamRejected(int status, string? code, string message) =>
        new(status, InvalidRequest, code ?? "upstream_rejected", message);

    public static GatewayError GatewayShuttingDown() =>
        new(StatusCodes.Status503ServiceUnavailable, Upstream, "gateway_shutting_down",
            "The gateway is shutting down (a deploy or restart) and ended this call before the answer was complete. Retry the request; another instance takes it.")
        { RetryAfterSeconds = 1 };

    public static GatewayError UsageNotRecorded() =>
        new(StatusCodes.Status503ServiceUnavailable, Upstream, "usage_not_recorded",
            "The gateway could not record this response's usage, so it withholds the answer. Retry the request; if it persists, tell the gateway's operator.")
        { RetryAfterSeconds = 5 };

    public static GatewayError Internal() =>
        new(StatusCodes.Status500InternalServerError, "server_error", "internal_error",
            "The gateway hit an internal error. It has been logged with this request's x-request-id; please report it.");

    public static GatewayError TokenBudgetExceeded(string period, long limit, DateTimeOffset resetsAt, int retryAfterSeconds) =>
        RateLimited("token_budget_exceeded",
            $"This tenant's {(period == "day" ? "daily" : "monthly")} token budget of {limit} tokens is used up. It resets at {resetsAt:yyyy-MM-ddTHH:mm:ssZ} (UTC); " +
            "retry after the time given in Retry-After, or ask the gateway's operator to raise the budget.", retryAfterSeconds);

    public static GatewayError TokenBudgetReserved(string period, long limit, int retryAfterSeconds) =>
        RateLimited("token_budget_exceeded",
            $"Requests in flight have reserved the rest of this tenant's {(period == "day" ? "daily" : "monthly")} token budget of {limit} tokens. " +
            "Retry when they finish (see Retry-After); what they do not use becomes available again.", retryAfterSeconds);

    public static GatewayError ServerBusy(string message, int retryAfterSeconds = 1) =>
        new(StatusCodes.Status503ServiceUnavailable, "server_error", "server_busy", message) { RetryAfterSeconds = Math.Max(1, retryAfterSeconds) };

    public static GatewayError Conflict(string code, string message, string? param = null) =>
        new(StatusCodes.Status409Conflict, InvalidRequest, code, message, param);

    /// <summary>Echoed caller input is cut short so a message never carries a payload.</summary>
    public static string Truncate(string value, int max = 64) =>
        value.Length <= max ? value : string.Concat(value.AsSpan(0, max), "…");
}
