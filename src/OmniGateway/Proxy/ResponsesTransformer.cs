using System.Net.Http.Headers;
using Yarp.ReverseProxy.Forwarder;

namespace OmniGateway.Proxy;

/// <summary>
/// Shapes the upstream request (step 5) and takes over the response (step 6). Headers are an
/// allow-list: nothing of the caller's — key, cookie, hop-by-hop or internal header — reaches the upstream.
/// </summary>
internal sealed class ResponsesTransformer(UpstreamClient upstream, RelaySession session, RelayTarget target, UpstreamDeadline deadline)
    : HttpTransformer
{
    private static readonly MediaTypeHeaderValue Json = new("application/json");
    private static readonly MediaTypeWithQualityHeaderValue EventStream = new("text/event-stream");

    public override ValueTask TransformRequestAsync(HttpContext httpContext, HttpRequestMessage proxyRequest, string destinationPrefix,
        CancellationToken cancellationToken)
    {
        proxyRequest.RequestUri = upstream.ResponsesUri;
        proxyRequest.Options.Set(UpstreamCall.OptionsKey, session.Upstream); // the retry handler adds each try's destination and key
        proxyRequest.Headers.Accept.Add(EventStream);
        proxyRequest.Headers.TryAddWithoutValidation("x-request-id", session.RequestId);
        if (proxyRequest.Content is { } content)
        {
            content.Headers.ContentType = Json;
            content.Headers.ContentLength = session.Request.UpstreamBody.Length;
        }
        return ValueTask.CompletedTask;
    }

    public override async ValueTask<bool> TransformResponseAsync(HttpContext httpContext, HttpResponseMessage? proxyResponse,
        CancellationToken cancellationToken)
    {
        if (proxyResponse is null) return false; // no answer at all: the forwarder reports the error to us
        var relay = new SseRelay(session, target, httpContext, deadline, upstream.Keys);
        await relay.RunAsync(proxyResponse, cancellationToken);
        return false; // the relay consumed the body; the forwarder must not copy it again
    }
}
