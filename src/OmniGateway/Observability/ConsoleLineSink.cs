using System.Text;
using Serilog.Core;
using Serilog.Events;
using Serilog.Formatting;

namespace OmniGateway.Observability;

/// <summary>
/// One formatted line per event to standard output, written by the async sink's one worker thread.
/// Serilog's console sink formats each event into a new <see cref="StringWriter"/> and copies it into a
/// string before writing: two log lines per call made that half of what a stream allocated (issue 11,
/// bench/: allocated per stream). Here the buffer and the encoder are kept and reused; each line is
/// still written (flushed) as soon as it is formatted, so nothing waits in memory.
/// </summary>
internal sealed class ConsoleLineSink(ITextFormatter formatter) : ILogEventSink, IDisposable
{
    private readonly StringWriter _line = new(new StringBuilder(1024), System.Globalization.CultureInfo.InvariantCulture);
    private readonly StreamWriter _stdout = new(Console.OpenStandardOutput(), new UTF8Encoding(encoderShouldEmitUTF8Identifier: false), bufferSize: 16 * 1024)
    {
        AutoFlush = false,
    };

    /// <summary>Called by one thread at a time (the async sink's worker); the lock only guards against a second caller.</summary>
    public void Emit(LogEvent logEvent)
    {
        lock (_line)
        {
            var text = _line.GetStringBuilder();
            text.Clear();
            formatter.Format(logEvent, _line);
            foreach (var chunk in text.GetChunks()) _stdout.Write(chunk.Span);
            _stdout.Flush();
            // A rare huge line (an exception's stack) must not keep its buffer for the process's life.
            if (text.Capacity > 64 * 1024) text.Capacity = 1024;
        }
    }

    public void Dispose()
    {
        lock (_line)
        {
            _stdout.Dispose();
            (formatter as IDisposable)?.Dispose();
        }
    }
}
