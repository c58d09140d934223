using System.Net;
using Yarp.ReverseProxy.Forwarder;

// OmniGateway.Bench.PassThrough UPSTREAM_URL --urls http://127.0.0.1:PORT
// A bare YARP direct-forwarding pass-through (YARP's own sample): Kestrel in, IHttpForwarder out, no auth,
// validation, accounting or logs. In bench/ it runs beside direct and nginx, so every report shows what
// the framework itself costs and what the gateway adds on top.
if (args.Length < 1 || !Uri.TryCreate(args[0], UriKind.Absolute, out var upstream))
{
    Console.Error.WriteLine("usage: OmniGateway.Bench.PassThrough UPSTREAM_URL --urls http://127.0.0.1:PORT");
    return 2;
}
var builder = WebApplication.CreateBuilder(args[1..]);
builder.Logging.ClearProviders();
builder.WebHost.ConfigureKestrel(kestrel => kestrel.Limits.MaxRequestBodySize = null);
builder.Services.AddHttpForwarder();
var app = builder.Build();

// Configured as the gateway's UpstreamClient: one invoker, pooled HTTP/1.1 keep-alive, no cookies or redirects.
using var invoker = new HttpMessageInvoker(new SocketsHttpHandler
{
    UseProxy = false,
    AllowAutoRedirect = false,
    AutomaticDecompression = DecompressionMethods.None,
    UseCookies = false,
    EnableMultipleHttp2Connections = true,
    PooledConnectionIdleTimeout = TimeSpan.FromSeconds(60),
    ActivityHeadersPropagator = null,
});
var destination = upstream.ToString().TrimEnd('/');
var request = new ForwarderRequestConfig { ActivityTimeout = TimeSpan.FromMinutes(5) };

app.MapGet("/healthz", () => "ok");
app.Map("/{**path}", async (HttpContext context, IHttpForwarder forwarder) =>
{
    await forwarder.SendAsync(context, destination, invoker, request, HttpTransformer.Default);
});
await app.StartAsync();
// Its logging is off, so it says where it listens itself (port 0 becomes a free port): the bench reads this line.
foreach (var address in app.Urls) Console.WriteLine($"Now listening on: {address}");
await app.WaitForShutdownAsync();
return 0;
