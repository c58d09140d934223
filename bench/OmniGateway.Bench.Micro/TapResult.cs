namespace OmniGateway.Bench.Micro;

/// <summary>What the relay learnt from a stream: enough to check a run did the work, and to keep the JIT from skipping it.</summary>
public readonly record struct TapResult(int Events, int TerminalEvents, string? ResponseId, long TotalTokens, long RelayedBytes);
