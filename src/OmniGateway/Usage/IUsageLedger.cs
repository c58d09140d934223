namespace OmniGateway.Usage;

/// <summary>Where usage records go. <see cref="AppendAsync"/> returns once the record is durable.</summary>
public interface IUsageLedger
{
    ValueTask AppendAsync(UsageRecord record, CancellationToken cancellationToken);
}
