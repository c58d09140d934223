using System.Net;

namespace OmniGateway.IntegrationTests;

/// <summary>Calls sent all at once, each read to its end, split into what admission let through and what it refused.</summary>
public static class Burst
{
    public sealed record Reply(HttpStatusCode StatusCode, string Body, TimeSpan? RetryAfter);

    /// <summary><paramref name="calls"/> concurrent <c>POST /v1/responses</c> with <paramref name="body"/>; 200s and 429s (anything else is in neither list).</summary>
    public static async Task<(List<Reply> Admitted, List<Reply> Refused)> PostAsync(HttpClient client, int calls, Func<HttpContent> body)
    {
        var replies = await Task.WhenAll(Enumerable.Range(0, calls).Select(async _ =>
        {
            using var response = await client.PostAsync("/v1/responses", body());
            return new Reply(response.StatusCode, await response.Content.ReadAsStringAsync(), response.Headers.RetryAfter?.Delta);
        }));
        return (replies.Where(r => r.StatusCode == HttpStatusCode.OK).ToList(), replies.Where(r => r.StatusCode == HttpStatusCode.TooManyRequests).ToList());
    }
}
