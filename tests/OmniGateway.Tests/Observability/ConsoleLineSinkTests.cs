using System.Text;
using OmniGateway.Observability;
using Serilog.Events;
using Serilog.Formatting.Compact;
using Serilog.Parsing;

namespace OmniGateway.Tests.Observability;

/// <summary>The console writer: every line out, whole and in order, many calls' lines per write, all of it by disposal.</summary>
public sealed class ConsoleLineSinkTests
{
    [Fact]
    public void EveryLineEmitted_IsWrittenWhole_ByDisposal()
    {
        var output = new CountingStream();
        var sink = new ConsoleLineSink(new CompactJsonFormatter(), output);
        const int threads = 4, perThread = 2_000;
        Parallel.For(0, threads, thread =>
        {
            for (var i = 0; i < perThread; i++) sink.Emit(Event($"line {thread}-{i}"));
        });
        sink.Dispose();

        var lines = output.Text.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(threads * perThread, lines.Length);
        for (var thread = 0; thread < threads; thread++)
        {
            // Each thread's lines keep their order, and no line is torn by another's.
            var mine = lines.Where(l => l.Contains($"\"line {thread}-", StringComparison.Ordinal)).ToArray();
            Assert.Equal(perThread, mine.Length);
            for (var i = 0; i < perThread; i++) Assert.Contains($"\"@mt\":\"line {thread}-{i}\"", mine[i], StringComparison.Ordinal);
        }
    }

    [Fact]
    public void LinesOfCallsEndingTogether_GoOutInFewerWritesThanLines()
    {
        var output = new CountingStream();
        using (var sink = new ConsoleLineSink(new CompactJsonFormatter(), output))
        {
            for (var i = 0; i < 1_000; i++) sink.Emit(Event($"call {i} ended"));
        }
        Assert.Equal(1_000, output.Text.Split('\n', StringSplitOptions.RemoveEmptyEntries).Length);
        Assert.True(output.Flushes < 100, $"{output.Flushes} flushes for 1 000 lines emitted back to back");
    }

    [Fact]
    public async Task ALoneLine_IsWrittenWithoutWaitingForMore()
    {
        var output = new CountingStream();
        using var sink = new ConsoleLineSink(new CompactJsonFormatter(), output);
        sink.Emit(Event("only one"));
        var waited = System.Diagnostics.Stopwatch.StartNew();
        while (!output.Text.Contains("only one", StringComparison.Ordinal) && waited.Elapsed < TimeSpan.FromSeconds(10)) await Task.Delay(5);
        Assert.Contains("only one", output.Text, StringComparison.Ordinal);
    }

    private static LogEvent Event(string text) =>
        new(DateTimeOffset.UnixEpoch, LogEventLevel.Information, null, new MessageTemplateParser().Parse(text), []);

    /// <summary>Keeps what is written (readable after the sink disposed it) and counts the flushes.</summary>
    private sealed class CountingStream : MemoryStream
    {
        private readonly object _gate = new();
        private readonly List<byte> _written = [];
        public int Flushes { get; private set; }

        public string Text { get { lock (_gate) return Encoding.UTF8.GetString(_written.ToArray()); } }

        public override void Write(ReadOnlySpan<byte> buffer) { lock (_gate) _written.AddRange(buffer); }

        public override void Write(byte[] buffer, int offset, int count) => Write(buffer.AsSpan(offset, count));

        public override void Flush() { lock (_gate) Flushes++; }
    }
}
