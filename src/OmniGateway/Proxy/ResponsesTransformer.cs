using System.IO.Pipelines;
using System.Runtime.CompilerServices;
using OmniGateway.Errors;
using OmniGateway.Observability;
using OmniGateway.Upstream;
using OmniGateway.Usage;
using Yarp.ReverseProxy.Forwarder;

namespace OmniGateway.Proxy;

/// <summary>
/// Shapes the upstream request (step 5) and takes over the response (step 6): an error answer is
/// mapped, a stream goes through <see cref="SseRelay"/>. Headers are an allow-list: nothing of the
/// caller's — key, cookie, hop-by-hop or internal header — reaches the upstream.
/// </summary>
internal sealed class ResponsesTransformer(UpstreamClient upstream, CallAccount account, RelayTarget target, UpstreamDeadline deadline, TimeProvider time,
    GatewayMetrics metrics)
    : HttpTransformer
{
    // Zero-byte reads: an open stream waiting for its next event holds no buffer (bench/: memory per
    // open stream), and a burst is read 64 KiB at a time (a 5 MB audio event in 80 reads, not 1 300).
    private static readonly StreamPipeReaderOptions UpstreamReads = new(bufferSize: 64 * 1024, minimumReadSize: 16 * 1024, useZeroByteReads: true);

    /// <summary>Set once the upstream answered: how its answer ended.</summary>
    public RelayResult? Result { get; private set; }

    /// <summary>With <see cref="RelayEnd.Refused"/>: the scrubbed error the caller gets.</summary>
    public GatewayError? Refusal { get; private set; }

    public override ValueTask TransformRequestAsync(HttpContext httpContext, HttpRequestMessage proxyRequest, string destinationPrefix,
        CancellationToken cancellationToken)
    {
        proxyRequest.RequestUri = upstream.ResponsesUri;
        proxyRequest.Options.Set(UpstreamCall.OptionsKey, account.Upstream); // the retry handler adds each try's destination and key
        account.Upstream.SetHeaders(proxyRequest.Headers);
        // No content here: the retry handler puts the enriched body, its type and length on each try (UpstreamCall).
        return ValueTask.CompletedTask;
    }

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))] // YARP awaits it once; the box is reused by the next stream
    public override async ValueTask<bool> TransformResponseAsync(HttpContext httpContext, HttpResponseMessage? proxyResponse,
        CancellationToken cancellationToken)
    {
        if (proxyResponse is null) return false; // no answer at all: the forwarder reports the error to us
        if (!proxyResponse.IsSuccessStatusCode || IsJson(proxyResponse))
        {
            // Contract 3.6: no upstream header is relayed on errors, and the message is scrubbed.
            Refusal = await UpstreamErrorMapper.MapAsync(proxyResponse, upstream.Keys, time, cancellationToken);
            Result = new RelayResult(RelayEnd.Refused, null, 0, null);
            return false;
        }

        var reader = PipeReader.Create(await proxyResponse.Content.ReadAsStreamAsync(deadline.ReadToken), UpstreamReads);
        metrics.StreamOpened();
        try
        {
            // Reads take the deadline's token, not YARP's (which carries the client's disconnect): whether
            // a departure cancels the upstream is the deadline's decision.
            Result = await SseRelay.RelayAsync(reader, proxyResponse.Content.Headers.ContentType?.ToString(), target, deadline,
                account.RecordAsync, httpContext.RequestAborted);
        }
        finally
        {
            metrics.StreamClosed();
            await reader.CompleteAsync();
        }
        return false; // the relay consumed the body; the forwarder must not copy it again
    }

    private static bool IsJson(HttpResponseMessage response) =>
        response.Content.Headers.ContentType?.MediaType is { } media && media.EndsWith("json", StringComparison.OrdinalIgnoreCase);
}
