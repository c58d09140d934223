using System.Text.Json;
using OmniGateway.Bench.Micro;
using OmniGateway.Tests.Validation;

namespace OmniGateway.Tests.Bench;

/// <summary>
/// Each micro benchmark run once, directly: BenchmarkDotNet spawns a process per benchmark and takes
/// minutes, so without this a benchmark could measure a refusal or an empty stream for months unnoticed.
/// </summary>
public sealed class MicroBenchmarksSmokeTests
{
    private static readonly string TextAudioResponseId = Fixtures.Expected("text-audio.sse").ResponseId;
    private static readonly long TextAudioTotalTokens = Fixtures.Expected("text-audio.sse").TotalTokens;

    [Fact]
    public void ValidationBenchmarks_EachBodyIsAcceptedAndForwardedWhole()
    {
        var benchmarks = new ValidationBenchmarks();
        benchmarks.Setup();

        Assert.True(benchmarks.SmallTextRequest() > 0);
        Assert.True(benchmarks.ValidateAsTheEndpointDoes(ValidationBenchmarks.Body.TypicalAudio, request => request.WantsAudio));
        // The forwarded body carries the whole audio: a benchmark that dropped it would measure the wrong work.
        Assert.InRange(benchmarks.TypicalInlineAudio100KB(), BenchSamples.TypicalAudioBase64Bytes, BenchSamples.TypicalAudioBase64Bytes + 1024);
        Assert.InRange(benchmarks.LargeInlineAudio9MB(), BenchSamples.LargeAudioBase64Bytes, BenchSamples.LargeAudioBase64Bytes + 1024);
        var format = benchmarks.ValidateAsTheEndpointDoes(ValidationBenchmarks.Body.LargeAudio, request =>
        {
            using var forwarded = JsonDocument.Parse(request.UpstreamBody);
            return forwarded.RootElement.GetProperty("input")[0].GetProperty("content")[1].GetProperty("input_audio").GetProperty("format").GetString();
        });
        Assert.Equal("wav", format);
    }

    [Fact]
    public void LogLineBenchmarks_BothFormattersWriteTheSameTwoLines()
    {
        using var benchmarks = new LogLineBenchmarks();
        benchmarks.Setup();

        var serilogs = (Length: benchmarks.Serilog(), Text: benchmarks.Written);
        var gateways = (Length: benchmarks.Gateway(), Text: benchmarks.Written);

        Assert.Equal(serilogs, gateways);
        Assert.Equal(2, gateways.Text.Split('\n', StringSplitOptions.RemoveEmptyEntries).Length);
        Assert.Contains("\"TotalTokens\":2768", gateways.Text, StringComparison.Ordinal);
    }

    [Fact]
    public async Task UsageReaderBenchmarks_ReadEveryEventAndTheSampleUsage()
    {
        var benchmarks = new UsageReaderBenchmarks();
        benchmarks.Setup();

        var sample = await benchmarks.TextAudioStreamPerEvent();
        Assert.Equal(new TapResult(BenchSamples.TextAudioEvents, 1, TextAudioResponseId, TextAudioTotalTokens, 28819), sample);

        var deltas = await benchmarks.DeltaEventsPerEvent();
        Assert.Equal(BenchSamples.DeltaEvents, deltas.Events);
        Assert.Equal(0, deltas.TerminalEvents);
        Assert.Null(deltas.ResponseId);
    }

    [Theory]
    [InlineData(ReadPattern.OneEventPerRead)]
    [InlineData(ReadPattern.FourKilobyteReads)]
    public async Task RelayHotPathBenchmarks_RelayEveryByteAndReadTheSampleUsage(ReadPattern reads)
    {
        var benchmarks = new RelayHotPathBenchmarks { Reads = reads };
        benchmarks.Setup();

        var sample = await benchmarks.TextAudioStreamPerEvent();
        Assert.Equal(new TapResult(BenchSamples.TextAudioEvents, 1, TextAudioResponseId, TextAudioTotalTokens, 28819), sample);

        // Twice: the replayed upstream and the client pipe are reset and reused between runs, and the second run must see a fresh stream.
        for (var run = 0; run < 2; run++)
        {
            var deltas = await benchmarks.DeltaEventsPerEvent();
            Assert.Equal(BenchSamples.DeltaEvents, deltas.Events);
            Assert.Equal(BenchSamples.DeltaStream().Length, deltas.RelayedBytes);
        }
    }
}
