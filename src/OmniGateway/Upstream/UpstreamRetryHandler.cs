using System.Net.Http.Headers;

namespace OmniGateway.Upstream;

/// <summary>
/// The upstream invoker's retry step. It picks a destination per try, puts that destination's URL and
/// key on the request, and repeats a try that failed before any answer existed: a connection failure,
/// or a 502/503/504/429 (after its <c>Retry-After</c>, up to <c>Upstream:MaxRetryAfter</c>), or a refused
/// key when another destination remains — with jittered exponential back-off, within
/// <c>Upstream:RetryDeadline</c> and <c>Upstream:MaxAttempts</c>. It hands back only the response it
/// accepts, and the relay starts only then: a try is never repeated once the client has seen a byte,
/// by construction. Those answers carry no generation, so a repeat is not a second billed answer.
/// The client's disconnect and the first-byte timeout arrive as the cancellation token and end the retrying.
/// </summary>
public sealed partial class UpstreamRetryHandler(
    UpstreamDestinations destinations, UpstreamOptions options, TimeProvider time, UpstreamMetrics metrics, ILogger logger) : DelegatingHandler
{
    private static readonly MediaTypeHeaderValue Json = new("application/json");

    protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        // Without the call (and its body) a try cannot be repeated: one try, still spread and health-checked.
        request.Options.TryGetValue(UpstreamCall.OptionsKey, out var call);
        var started = time.GetTimestamp();
        ulong tried = 0;
        for (var attempt = 1; ; attempt++)
        {
            // Try 1 of a streamed body may have been started while the body arrived: it is waited for as this try. Its
            // body ends only now, when a try's answer is waited for (StreamedRequestBody.Send).
            var firstTry = attempt == 1 ? call?.AdoptFirstTry() : null;
            call?.Streamed?.Send();
            var destination = firstTry?.Destination ?? destinations.Pick(tried);
            tried = UpstreamDestinations.MarkTried(tried, destination);
            if (firstTry is null) Prepare(request, destination, call);
            if (call is not null) (call.Attempts, call.Destination) = (attempt, destination.Index);

            HttpResponseMessage response;
            try
            {
                response = firstTry is null ? await base.SendAsync(request, cancellationToken) : await firstTry.ResponseAsync(cancellationToken);
            }
            // A connect that exceeds Upstream:ConnectTimeout surfaces as a cancellation the caller did not ask for.
            catch (Exception exception) when (exception is HttpRequestException or OperationCanceledException && !cancellationToken.IsCancellationRequested)
            {
                destinations.ReportFailure(destination, "could not be reached");
                var delay = destinations.HasUntried(tried) ? TimeSpan.Zero : Backoff(attempt);
                if (!MayRetry(call, attempt, started, delay))
                {
                    Log.GaveUp(logger, call?.RequestId, attempt, destination.Index, "connection failure");
                    throw;
                }
                Log.Retrying(logger, call!.RequestId, attempt, destination.Index, exception is HttpRequestException { HttpRequestError: var error } ? $"connection failure ({error})" : "connection failure (connect timeout)", delay.TotalMilliseconds);
                metrics.Retried(destination.Index, "connection_failure");
                await Task.Delay(delay, time, cancellationToken);
                continue;
            }

            var status = (int)response.StatusCode;
            TimeSpan? retryDelay;
            switch (status)
            {
                case 401 or 403:
                    destinations.ReportKeyRefused(destination, status);
                    // Another destination may hold a good key; the same one will refuse the same key again.
                    retryDelay = destinations.HasUntried(tried) ? TimeSpan.Zero : null;
                    break;
                case 429 or 502 or 503 or 504:
                    var retryAfter = RetryAfter(response.Headers.RetryAfter);
                    destinations.ReportFailure(destination, $"answered HTTP {status}", retryAfter);
                    retryDelay = destinations.HasUntried(tried) ? TimeSpan.Zero
                        : retryAfter is null ? Backoff(attempt)
                        : retryAfter <= options.MaxRetryAfter ? retryAfter
                        : null; // it asked for longer than we wait: its 429 and Retry-After go to the client
                    break;
                case >= 500:
                    // Not repeated (a 500 may be this request's fault), but it counts against the destination.
                    destinations.ReportFailure(destination, $"answered HTTP {status}");
                    retryDelay = null;
                    break;
                default:
                    destinations.ReportSuccess(destination);
                    retryDelay = null;
                    break;
            }

            if (retryDelay is not { } wait)
            {
                if (attempt > 1) Log.Accepted(logger, call?.RequestId, attempt, destination.Index, status);
                return response;
            }
            if (!MayRetry(call, attempt, started, wait))
            {
                Log.GaveUp(logger, call?.RequestId, attempt, destination.Index, $"HTTP {status}");
                return response; // the relay maps it to the gateway's error, scrubbed
            }
            Log.Retrying(logger, call!.RequestId, attempt, destination.Index, $"HTTP {status}", wait.TotalMilliseconds);
            metrics.Retried(destination.Index, status is 401 or 403 ? "key_refused" : $"http_{status}");
            response.Dispose();
            await Task.Delay(wait, time, cancellationToken);
        }
    }

    /// <summary>
    /// Starts try 1 of a call whose body is still arriving (<see cref="UpstreamCall.Streamed"/>), as YARP would send it, so
    /// the body goes upstream while it is read; the retry loop adopts the try when YARP forwards the call (issue 11, target 5).
    /// </summary>
    internal void StartFirstTry(UpstreamCall call)
    {
        var destination = destinations.Pick(0);
        // YARP's defaults for a forwarded request (ForwarderRequestConfig): HTTP/2 where the destination offers it.
        var request = new HttpRequestMessage(HttpMethod.Post, destination.ResponsesUri) { Version = System.Net.HttpVersion.Version20, VersionPolicy = HttpVersionPolicy.RequestVersionOrLower };
        call.SetHeaders(request.Headers);
        Prepare(request, destination, call);
        var cancellation = new CancellationTokenSource();
        Task<HttpResponseMessage> response;
        try
        {
            response = base.SendAsync(request, cancellation.Token);
        }
        catch (Exception exception)
        {
            response = Task.FromException<HttpResponseMessage>(exception); // the retry loop sees it as any try's failure
        }
        call.FirstTry = new UpstreamFirstTry(destination, response, cancellation);
    }

    /// <summary>The destination's URL and key, and a fresh copy of the body: the previous try's content was consumed.</summary>
    private static void Prepare(HttpRequestMessage request, UpstreamDestination destination, UpstreamCall? call)
    {
        request.RequestUri = destination.ResponsesUri;
        request.Headers.Remove("Authorization");
        request.Headers.TryAddWithoutValidation("Authorization", destination.AuthorizationValue);
        if (call is null) return;
        request.Content = call.Streamed is { } streamed
            ? new StreamedBodyContent(streamed) { Headers = { ContentType = Json } }
            : new UpstreamBodyContent(call.Body, call.BodyBuffer) { Headers = { ContentType = Json, ContentLength = call.Body.Length } };
    }

    private bool MayRetry(UpstreamCall? call, int attempt, long started, TimeSpan delay) =>
        call is not null && attempt < options.MaxAttempts && time.GetElapsedTime(started) + delay < options.RetryDeadline;

    /// <summary>Exponential from <c>Upstream:RetryBaseDelay</c>, ±50 % jitter so that many calls failing together do not return together.</summary>
    private TimeSpan Backoff(int attempt) =>
        options.RetryBaseDelay * Math.Pow(2, attempt - 1) * (0.5 + Random.Shared.NextDouble());

    private TimeSpan? RetryAfter(RetryConditionHeaderValue? header) => header switch
    {
        { Delta: { } delta } => delta < TimeSpan.Zero ? TimeSpan.Zero : delta,
        { Date: { } date } => date > time.GetUtcNow() ? date - time.GetUtcNow() : TimeSpan.Zero,
        _ => null,
    };

    private static partial class Log
    {
        [LoggerMessage(EventId = 5100, Level = LogLevel.Warning,
            Message = "Upstream try {Attempt} of {RequestId} (destination {Destination}) failed before any byte reached the client: {Reason}; trying again in {DelayMs:0} ms")]
        public static partial void Retrying(ILogger logger, string requestId, int attempt, int destination, string reason, double delayMs);

        [LoggerMessage(EventId = 5101, Level = LogLevel.Information,
            Message = "Upstream call {RequestId} answered on try {Attempts} by destination {Destination} with HTTP {Status}")]
        public static partial void Accepted(ILogger logger, string? requestId, int attempts, int destination, int status);

        [LoggerMessage(EventId = 5102, Level = LogLevel.Warning,
            Message = "Upstream call {RequestId} gave up after {Attempts} tries (last: destination {Destination}, {Reason})")]
        public static partial void GaveUp(ILogger logger, string? requestId, int attempts, int destination, string reason);
    }
}
