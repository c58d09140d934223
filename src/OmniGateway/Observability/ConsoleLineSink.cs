using System.Globalization;
using System.Text;
using Serilog.Core;
using Serilog.Events;
using Serilog.Formatting;

namespace OmniGateway.Observability;

/// <summary>
/// Log lines to standard output, many calls' lines per write. The logging thread formats its event straight
/// into the pending text (under the lock: one formatter call at a time, so a formatter may keep buffers); one
/// writer thread sleeps until the pending text turns non-empty, waits <see cref="GatherTime"/> more so that the
/// lines of the calls ending meanwhile go out together, and writes them in one go. Serilog's async sink woke its
/// worker for every event, which then spun looking for the next one: a quarter of the gateway's logging CPU, and
/// two write calls per stream (issue 11, bench/profile.sh). Under a flood (a blocked stdout) callers wait rather
/// than lines vanish.
/// </summary>
internal sealed class ConsoleLineSink : ILogEventSink, IDisposable
{
    /// <summary>How long the writer gathers lines after the first; a line is on its way this much later at most.</summary>
    internal static readonly TimeSpan GatherTime = TimeSpan.FromMilliseconds(5);

    /// <summary>Pending characters past which callers wait for the writer: seconds of a busy gateway's lines.</summary>
    private const int MaxPendingChars = 4 * 1024 * 1024;

    private readonly ITextFormatter _formatter;
    private readonly TextWriter _output;
    private readonly object _gate = new();
    private readonly Thread _writer;
    private StringWriter _pending = new(new StringBuilder(16 * 1024), CultureInfo.InvariantCulture);
    private StringWriter _writing = new(new StringBuilder(16 * 1024), CultureInfo.InvariantCulture);
    private bool _stopping;

    public ConsoleLineSink(ITextFormatter formatter, Stream? output = null)
    {
        _formatter = formatter;
        _output = new StreamWriter(output ?? Console.OpenStandardOutput(), new UTF8Encoding(encoderShouldEmitUTF8Identifier: false), bufferSize: 16 * 1024);
        _writer = new Thread(WriteLines) { IsBackground = true, Name = "Log writer" };
        _writer.Start();
    }

    public void Emit(LogEvent logEvent)
    {
        lock (_gate)
        {
            var pending = _pending.GetStringBuilder();
            while (pending.Length > MaxPendingChars && !_stopping)
            {
                Monitor.Wait(_gate);
                pending = _pending.GetStringBuilder();
            }
            var start = pending.Length;
            try
            {
                _formatter.Format(logEvent, _pending);
            }
            catch
            {
                pending.Length = start; // no half line; Serilog reports the failure (SelfLog)
                throw;
            }
            if (start == 0) Monitor.PulseAll(_gate); // the writer sleeps only while nothing is pending
        }
    }

    private void WriteLines()
    {
        while (true)
        {
            bool stopping;
            lock (_gate)
            {
                while (_pending.GetStringBuilder().Length == 0 && !_stopping) Monitor.Wait(_gate);
                if (_pending.GetStringBuilder().Length == 0) return; // stopping, and everything is out
                stopping = _stopping;
            }
            if (!stopping) Thread.Sleep(GatherTime);
            lock (_gate)
            {
                (_pending, _writing) = (_writing, _pending);
                Monitor.PulseAll(_gate); // callers waiting for room
            }
            var text = _writing.GetStringBuilder();
            try
            {
                foreach (var chunk in text.GetChunks()) _output.Write(chunk.Span);
                _output.Flush();
            }
            catch (IOException)
            {
                // stdout closed (the reading end went away): the lines have nowhere to go; keep serving the calls.
            }
            text.Clear();
            // A burst (or an exception's stack) must not keep its buffer for the process's life.
            if (text.Capacity > 1024 * 1024) text.Capacity = 16 * 1024;
        }
    }

    /// <summary>Writes every line emitted before it, then stops the writer.</summary>
    public void Dispose()
    {
        lock (_gate)
        {
            if (_stopping) return;
            _stopping = true;
            Monitor.PulseAll(_gate);
        }
        _writer.Join();
        _output.Dispose();
        _pending.Dispose();
        _writing.Dispose();
        (_formatter as IDisposable)?.Dispose();
    }
}
