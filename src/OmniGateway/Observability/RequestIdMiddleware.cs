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
        var simulator = upstream.Mode == UpstreamMode.Simulator;
        context.Response.OnStarting(static state =>
        {
            var (ctx, sim) = ((HttpContext, bool))state;
            ctx.Response.Headers[Header] = ctx.TraceIdentifier;
            if (sim) ctx.Response.Headers["x-omnigateway-upstream"] = "simulator";
            return Task.CompletedTask;
        }, (context, simulator));
        return next(context);
    }

    [GeneratedRegex("^[A-Za-z0-9._:-]{1,128}$")]
    private static partial Regex SaneId();
}
