using System.Text.Json;

namespace OmniGateway.IntegrationTests.Observability;

public static class GatewayLogLines
{
    /// <summary>
    /// The gateway process's JSON log lines that name the request id. The access line is written as the response ends,
    /// after UsageRecorded (which has a DurationMs too), so this waits for the line with the status code.
    /// </summary>
    public static async Task<List<JsonElement>> OfRequestAsync(this ChildProcess gateway, string requestId)
    {
        for (var attempt = 0; ; attempt++)
        {
            var lines = gateway.Output.Where(l => l.StartsWith('{') && l.Contains(requestId, StringComparison.Ordinal))
                .Select(l => JsonDocument.Parse(l).RootElement.Clone()).ToList();
            if (lines.Any(l => l.TryGetProperty("StatusCode", out _)) || attempt == 50) return lines;
            await Task.Delay(100);
        }
    }
}
