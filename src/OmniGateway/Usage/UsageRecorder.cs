namespace OmniGateway.Usage;

/// <summary>
/// Stores a record in the ledger, then logs it as the one <c>UsageRecorded</c> event of the request.
/// </summary>
public sealed partial class UsageRecorder(IUsageLedger ledger, ILogger<UsageRecorder> logger, IHostApplicationLifetime lifetime,
    RateLimiting.TenantAdmission admission, Pricing.PriceTable prices)
{
    public async ValueTask RecordAsync(UsageRecord record)
    {
        // Priced once, here: the stored amount is what history keeps, whatever the table says later.
        record = record with { Cost = prices.CostOf(record) };
        // On the span first: what the call was holds even if storing its record fails.
        Observability.CallTracing.Tag(record);
        // The write takes the shutdown token, not the request's: the record must outlive the client.
        try
        {
            await ledger.AppendAsync(record, lifetime.ApplicationStopping);
        }
        catch (Exception exception) when (exception is not OperationCanceledException)
        {
            Log.LedgerWriteFailed(logger, exception, record.RequestId, record.TenantId);
            throw;
        }
        var usage = record.Usage;
        admission.RecordStored(record); // the one hook that charges limits with a finished call
        Log.UsageRecorded(logger, record.RequestId, record.TenantId, record.KeyId, record.Model, record.Voice, record.Modalities,
            record.StartedAt, record.TimeToFirstByteMs, record.DurationMs, UsageRecord.OutcomeName(record.Outcome), record.UpstreamResponseId,
            usage?.InputTokens, usage?.CachedTokens, usage?.OutputTokens, usage?.ReasoningTokens, usage?.TotalTokens);
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 7000, EventName = "UsageRecorded", Level = LogLevel.Information,
            Message = "UsageRecorded {RequestId} tenant {TenantId} key {KeyId} model {Model} voice {Voice} modalities {Modalities} started {StartTime} ttfb {TimeToFirstByteMs} ms duration {DurationMs} ms outcome {Outcome} response {UpstreamResponseId} tokens in {InputTokens} cached {CachedTokens} out {OutputTokens} reasoning {ReasoningTokens} total {TotalTokens}")]
        public static partial void UsageRecorded(ILogger logger, string requestId, string tenantId, string keyId, string model, string? voice,
            string modalities, DateTimeOffset startTime, double? timeToFirstByteMs, double durationMs, string outcome, string? upstreamResponseId,
            long? inputTokens, long? cachedTokens, long? outputTokens, long? reasoningTokens, long? totalTokens);

        [LoggerMessage(EventId = 7001, Level = LogLevel.Error, Message = "Usage record {RequestId} of tenant {TenantId} could not be stored")]
        public static partial void LedgerWriteFailed(ILogger logger, Exception exception, string requestId, string tenantId);
    }
}
