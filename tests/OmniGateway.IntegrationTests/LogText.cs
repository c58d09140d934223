using Microsoft.Extensions.Logging.Testing;

namespace OmniGateway.IntegrationTests;

public static class LogText
{
    /// <summary>Every captured event as text (category, message, structured properties, exception): what a secret must not appear in.</summary>
    public static string AllText(this FakeLogCollector logs) => string.Join("\n", logs.GetSnapshot().Select(e => e.Category + " " + e.Message + " " +
        string.Join(" ", (e.StructuredState ?? []).Select(p => p.Key + "=" + p.Value)) + " " + e.Exception));

    /// <summary>The call's <c>UsageRecorded</c> event, once the gateway has logged it (a stream's record is logged as it ends).</summary>
    public static async Task<FakeLogRecord> UsageRecordAsync(this FakeLogCollector logs)
    {
        for (var attempt = 0; attempt < 100; attempt++)
        {
            var record = logs.GetSnapshot().FirstOrDefault(e => e.Message.StartsWith("UsageRecorded", StringComparison.Ordinal));
            if (record is not null) return record;
            await Task.Delay(100);
        }
        throw new TimeoutException("no UsageRecorded event within 10 s");
    }
}
