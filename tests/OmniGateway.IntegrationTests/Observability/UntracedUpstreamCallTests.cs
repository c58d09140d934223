using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Text;

namespace OmniGateway.IntegrationTests.Observability;

/// <summary>
/// With no OTLP endpoint there is nowhere to send a span, so the upstream call starts none (SocketsHttpHandler
/// runs without its diagnostics handler); with one, TracingTests shows the upstream call as a child span.
/// </summary>
public sealed class UntracedUpstreamCallTests
{
    [Fact]
    public async Task WithoutAnOtlpEndpoint_TheUpstreamCallStartsNoActivity()
    {
        await using var upstream = await FakeUpstream.StartAsync();
        await using var gateway = new GatewayFactory(upstream.BaseUrl);
        using var client = gateway.CreateTenantClient();
        var upstreamPort = upstream.BaseUrl.Port;
        var upstreamCallActivities = new ConcurrentBag<string>();
        // Process-wide: other tests' HTTP clients start activities too, so only calls to this upstream count.
        using var listener = new ActivityListener
        {
            ShouldListenTo = source => source.Name == "System.Net.Http",
            Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllDataAndRecorded,
            ActivityStopped = activity =>
            {
                // Its tags are complete once it stops; the test's own call to the gateway goes to another port.
                if (activity.GetTagItem("server.port") is int port && port == upstreamPort) upstreamCallActivities.Add(activity.OperationName);
            },
        };
        ActivitySource.AddActivityListener(listener);

        using var response = await client.PostAsync("/v1/responses",
            new StringContent("""{"model":"qwen3.5-omni-plus-all","input":"Hi","stream":true}""", Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        await response.Content.ReadAsStringAsync();

        Assert.NotEmpty(upstream.Requests); // the call did go upstream
        Assert.Empty(upstreamCallActivities);
    }
}
