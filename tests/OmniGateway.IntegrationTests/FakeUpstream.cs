using System.Collections.Concurrent;
using System.Text;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace OmniGateway.IntegrationTests;

/// <summary>
/// A real Kestrel server on 127.0.0.1:0 standing in for the upstream. It records every request and
/// answers with whatever the test scripts in <see cref="Respond"/> (by default: play text-audio.sse).
/// </summary>
public sealed class FakeUpstream : IAsyncDisposable
{
    private readonly WebApplication _app;

    private FakeUpstream(WebApplication app) => _app = app;

    public Uri BaseUrl { get; private set; } = null!; // set in StartAsync before anyone can read it

    public ConcurrentQueue<RecordedRequest> Requests { get; } = new();

    /// <summary>Fires when a request's connection goes away before the handler finished.</summary>
    public TaskCompletionSource RequestAborted { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public Func<HttpContext, Task> Respond { get; set; } = context => PlayAsync(context, Fixtures.Stream("text-audio.sse"), TimeSpan.FromMilliseconds(2));

    public static async Task<FakeUpstream> StartAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Logging.ClearProviders();
        var app = builder.Build();
        var upstream = new FakeUpstream(app);
        app.MapPost("/v1/responses", async context =>
        {
            using var body = new MemoryStream();
            await context.Request.Body.CopyToAsync(body);
            upstream.Requests.Enqueue(new RecordedRequest(
                context.Request.Headers.ToDictionary(h => h.Key, h => h.Value.ToString(), StringComparer.OrdinalIgnoreCase),
                body.ToArray()));
            context.RequestAborted.Register(() => upstream.RequestAborted.TrySetResult());
            try
            {
                await upstream.Respond(context);
            }
            catch (OperationCanceledException)
            {
            }
            catch (IOException)
            {
            }
        });
        await app.StartAsync();
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        upstream.BaseUrl = new Uri(address);
        return upstream;
    }

    /// <summary>Replays a recorded stream event by event, flushing each and pausing between them.</summary>
    public static async Task PlayAsync(HttpContext context, byte[] stream, TimeSpan delay, int? abortAfterEvents = null)
    {
        context.Response.ContentType = "text/event-stream";
        var events = Fixtures.SplitEvents(stream);
        for (var i = 0; i < events.Count; i++)
        {
            if (abortAfterEvents == i)
            {
                context.Abort();
                return;
            }
            await context.Response.Body.WriteAsync(events[i], context.RequestAborted);
            await context.Response.Body.FlushAsync(context.RequestAborted);
            if (delay > TimeSpan.Zero) await Task.Delay(delay, context.RequestAborted);
        }
    }

    public static Task ErrorAsync(HttpContext context, int status, string body, string contentType = "application/json")
    {
        context.Response.StatusCode = status;
        context.Response.ContentType = contentType;
        return context.Response.WriteAsync(body, Encoding.UTF8);
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}

public sealed record RecordedRequest(IReadOnlyDictionary<string, string> Headers, byte[] Body)
{
    public System.Text.Json.JsonDocument Json() => System.Text.Json.JsonDocument.Parse(Body);
}
