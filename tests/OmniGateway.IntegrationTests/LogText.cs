using Microsoft.Extensions.Logging.Testing;

namespace OmniGateway.IntegrationTests;

public static class LogText
{
    /// <summary>Every captured event as text (category, message, structured properties, exception): what a secret must not appear in.</summary>
    public static string AllText(this FakeLogCollector logs) => string.Join("\n", logs.GetSnapshot().Select(e => e.Category + " " + e.Message + " " +
        string.Join(" ", (e.StructuredState ?? []).Select(p => p.Key + "=" + p.Value)) + " " + e.Exception));
}
