namespace OmniGateway.Usage;

/// <summary>No store: the <c>UsageRecorded</c> log event is the only trace. For <c>Usage:Provider=None</c>.</summary>
public sealed class LogOnlyUsageLedger : IUsageLedger
{
    public ValueTask AppendAsync(UsageRecord record, CancellationToken cancellationToken) => ValueTask.CompletedTask;
}
