using System.Runtime.CompilerServices;
using static OmniGateway.Observability.CallLogLine;

namespace OmniGateway.Usage;

/// <summary>
/// Stores a record in the ledger, then logs it as the one <c>UsageRecorded</c> event of the request.
/// </summary>
public sealed partial class UsageRecorder(IUsageLedger ledger, ILogger<UsageRecorder> logger, IHostApplicationLifetime lifetime,
    RateLimiting.TenantAdmission admission, Serilog.ILogger serilog, Observability.CallLogSinks sinks)
{
    /// <summary>The call's usage line: its event and template (bench/'s LogLineBenchmarks formats lines of it).</summary>
    internal static readonly EventId UsageRecordedEvent = new(7000, "UsageRecorded");
    internal const string UsageRecordedTemplate =
        "UsageRecorded {RequestId} tenant {TenantId} key {KeyId} model {Model} voice {Voice} modalities {Modalities} started {StartTime} ttfb {TimeToFirstByteMs} ms duration {DurationMs} ms outcome {Outcome} response {UpstreamResponseId} tokens in {InputTokens} cached {CachedTokens} out {OutputTokens} reasoning {ReasoningTokens} total {TotalTokens}";

    // Once per call: written straight to Serilog (Observability/CallLogLine says why), fields as [LoggerMessage] wrote them.
    private readonly Observability.CallLogLine _usageRecorded = new(serilog, typeof(UsageRecorder).FullName!, UsageRecordedEvent, UsageRecordedTemplate, sinks);

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))] // awaited once (relay or forwarder); the box is reused by the next call
    public async ValueTask RecordAsync(UsageRecord record)
    {
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
        admission.RecordStored(record); // the one hook that charges limits with a finished call
        LogRecorded(record);
    }

    private void LogRecorded(UsageRecord record)
    {
        if (!_usageRecorded.IsEnabled(Serilog.Events.LogEventLevel.Information)) return;
        var usage = record.Usage;
        var properties = _usageRecorded.NewProperties();
        properties["RequestId"] = Scalar(record.RequestId);
        properties["TenantId"] = Known(record.TenantId);
        properties["KeyId"] = Known(record.KeyId);
        properties["Model"] = Known(record.Model);
        properties["Voice"] = Known(record.Voice);
        properties["Modalities"] = Known(record.Modalities);
        properties["StartTime"] = Scalar(record.StartedAt);
        properties["TimeToFirstByteMs"] = Scalar(record.TimeToFirstByteMs);
        properties["DurationMs"] = Scalar(record.DurationMs);
        properties["Outcome"] = Known(UsageRecord.OutcomeName(record.Outcome));
        properties["UpstreamResponseId"] = Scalar(record.UpstreamResponseId);
        properties["InputTokens"] = Scalar(usage?.InputTokens);
        properties["CachedTokens"] = Scalar(usage?.CachedTokens);
        properties["OutputTokens"] = Scalar(usage?.OutputTokens);
        properties["ReasoningTokens"] = Scalar(usage?.ReasoningTokens);
        properties["TotalTokens"] = Scalar(usage?.TotalTokens);
        _usageRecorded.Write(Serilog.Events.LogEventLevel.Information, properties);
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 7001, Level = LogLevel.Error, Message = "Usage record {RequestId} of tenant {TenantId} could not be stored")]
        public static partial void LedgerWriteFailed(ILogger logger, Exception exception, string requestId, string tenantId);
    }
}
