using OmniGateway.Bench.Micro;

namespace OmniGateway.Tests.Bench;

/// <summary>The admission benchmark run directly: it throws when a call is refused, so it cannot time a refusal unnoticed.</summary>
public sealed class AdmissionBenchmarksSmokeTests
{
    [Fact]
    public async Task AdmissionBenchmarks_AdmitEveryCall_InMemoryAndOnRedis()
    {
        using var benchmarks = new AdmissionBenchmarks();
        benchmarks.Setup();
        for (var i = 0; i < 3; i++)
        {
            await benchmarks.InMemory();
            await benchmarks.OnRedis(); // against the suite's redis-server when test.sh started one
        }
    }
}
