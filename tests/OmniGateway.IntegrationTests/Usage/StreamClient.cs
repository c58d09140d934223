using System.Net;
using System.Net.ServerSentEvents;
using System.Text;
using System.Text.Json;

namespace OmniGateway.IntegrationTests.Usage;

/// <summary>What a client of <c>/v1/responses</c> saw: the status, and the usage its terminal event reported.</summary>
public sealed record StreamResult(HttpStatusCode Status, string Body, bool SawCompleted, JsonElement? Usage, string? UsageJson);

public static class StreamClient
{
    private static readonly string[] TextOnly = ["text"];
    private static readonly string[] TextAndAudio = ["text", "audio"];

    public static string Request(string input, bool audio = false) => JsonSerializer.Serialize(new Dictionary<string, object>
    {
        ["model"] = LedgerGateway.Model,
        ["input"] = input,
        ["stream"] = true,
        ["modalities"] = audio ? TextAndAudio : TextOnly,
    });

    public static async Task<StreamResult> PostAsync(HttpClient client, string body, string? requestId = null, CancellationToken cancellationToken = default)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, "/v1/responses") { Content = new StringContent(body, Encoding.UTF8, "application/json") };
        if (requestId is not null) request.Headers.Add("x-request-id", requestId);
        using var response = await client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancellationToken);
        var text = await response.Content.ReadAsStringAsync(cancellationToken);
        var (usage, raw) = TerminalUsage(text);
        return new StreamResult(response.StatusCode, text, text.Contains("event: response.completed", StringComparison.Ordinal), usage, raw);
    }

    /// <summary>The <c>response.usage</c> of the terminal event, as parsed JSON and as its exact text.</summary>
    public static (JsonElement? Usage, string? Raw) TerminalUsage(string sse)
    {
        foreach (var item in SseParser.Create(new MemoryStream(Encoding.UTF8.GetBytes(sse))).Enumerate())
        {
            if (!item.Data.StartsWith('{')) continue;
            using var document = JsonDocument.Parse(item.Data);
            var type = document.RootElement.TryGetProperty("type", out var t) ? t.GetString() : null;
            if (type is not ("response.completed" or "response.incomplete" or "response.failed")) continue;
            if (!document.RootElement.GetProperty("response").TryGetProperty("usage", out var usage) || usage.ValueKind != JsonValueKind.Object) return (null, null);
            return (usage.Clone(), usage.GetRawText());
        }
        return (null, null);
    }

    public static long Tokens(JsonElement usage, string name) => usage.GetProperty(name).GetInt64();
}
