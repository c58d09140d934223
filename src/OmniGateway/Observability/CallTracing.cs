using System.Diagnostics;
using OmniGateway.Usage;

namespace OmniGateway.Observability;

/// <summary>
/// Puts a call's accounting on its request span: tenant, model, voice, outcome and the upstream's token
/// counts — the same facts as its usage record, never content or keys. Names follow OpenTelemetry's
/// GenAI conventions where one exists (<c>gen_ai.*</c>), the gateway's own (<c>omnigateway.*</c>) otherwise.
/// </summary>
public static class CallTracing
{
    public static void Tag(UsageRecord record)
    {
        var span = RequestSpan();
        // Not sampled, or no tracing configured: ASP.NET Core still starts an activity per request (for the log
        // lines' trace id), which nobody records, so its tags would only be allocations (bench/: allocated per stream).
        if (span is not { IsAllDataRequested: true } || !span.Source.HasListeners()) return;
        span.SetTag("omnigateway.request_id", record.RequestId);
        span.SetTag("omnigateway.tenant", record.TenantId);
        span.SetTag("gen_ai.request.model", record.Model);
        if (record.Voice is not null) span.SetTag("omnigateway.voice", record.Voice);
        span.SetTag("omnigateway.outcome", UsageRecord.OutcomeName(record.Outcome));
        if (record.UpstreamResponseId is not null) span.SetTag("gen_ai.response.id", record.UpstreamResponseId);
        if (record.TimeToFirstByteMs is { } ttfb) span.SetTag("omnigateway.time_to_first_event_s", ttfb / 1000);
        if (record.Usage is { } usage)
        {
            span.SetTag("gen_ai.usage.input_tokens", usage.InputTokens);
            span.SetTag("gen_ai.usage.output_tokens", usage.OutputTokens);
            span.SetTag("omnigateway.usage.cached_tokens", usage.CachedTokens);
            span.SetTag("omnigateway.usage.reasoning_tokens", usage.ReasoningTokens);
            span.SetTag("omnigateway.usage.total_tokens", usage.TotalTokens);
        }
        // A 200 whose stream then failed is still a failed call; the HTTP status alone would call it fine.
        if (record.Outcome is UsageOutcome.Failed or UsageOutcome.UpstreamError or UsageOutcome.Interrupted)
            span.SetStatus(ActivityStatusCode.Error, UsageRecord.OutcomeName(record.Outcome));
    }

    /// <summary>The request's server span, even if an inner span (the upstream call's) is current.</summary>
    private static Activity? RequestSpan()
    {
        for (var activity = Activity.Current; activity is not null; activity = activity.Parent)
        {
            if (activity.Kind == ActivityKind.Server) return activity;
        }
        return Activity.Current;
    }
}
