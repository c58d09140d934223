using System.Text.RegularExpressions;
using OmniGateway.Upstream;

namespace OmniGateway.Observability;

/// <summary>
/// Every answer carries <c>x-request-id</c>: the caller's own if it is sane, otherwise a new one. Set
/// in <c>OnStarting</c>, so an error path that clears the response cannot lose it.
/// </summary>
public sealed partial class RequestIdMiddleware(RequestDelegate next, UpstreamClient upstream)
{
    public const string Header = "x-request-id";

    public Task InvokeAsync(HttpContext context)
    {
        var incoming = context.Request.Headers[Header];
        context.TraceIdentifier = incoming.Count == 1 && SaneId().IsMatch(incoming[0]!) ? incoming[0]! : PrefixedIds.Random("req_");
        // One of two cached callbacks with the context as its state: no closure or boxed tuple per request.
        context.Response.OnStarting(upstream.Mode == UpstreamMode.Simulator ? StampSimulated : Stamp, context);
        return next(context);
    }

    private static readonly Func<object, Task> Stamp = static state =>
    {
        var context = (HttpContext)state;
        context.Response.Headers[Header] = context.TraceIdentifier;
        return Task.CompletedTask;
    };

    private static readonly Func<object, Task> StampSimulated = static state =>
    {
        ((HttpContext)state).Response.Headers["x-omnigateway-upstream"] = "simulator";
        return Stamp(state);
    };

    [GeneratedRegex("^[A-Za-z0-9._:-]{1,128}$")]
    private static partial Regex SaneId();
}
