using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;

namespace OmniGateway.IntegrationTests;

/// <summary>Every log event the gateway writes, with its message and structured properties.</summary>
public sealed class LogCapture : ILoggerProvider
{
    public ConcurrentQueue<CapturedLog> Entries { get; } = new();

    public ILogger CreateLogger(string categoryName) => new Logger(this, categoryName);

    public void Dispose() { }

    public string AllText() => string.Join("\n", Entries.Select(e => e.Category + " " + e.Message + " " +
        string.Join(" ", e.Properties.Select(p => p.Key + "=" + p.Value)) + " " + e.Exception));

    private sealed class Logger(LogCapture owner, string category) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;
        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            var properties = state is IEnumerable<KeyValuePair<string, object?>> pairs
                ? pairs.ToDictionary(p => p.Key, p => p.Value?.ToString())
                : new Dictionary<string, string?>();
            owner.Entries.Enqueue(new CapturedLog(category, eventId, formatter(state, exception), properties, exception?.ToString()));
        }
    }
}

public sealed record CapturedLog(string Category, EventId EventId, string Message, IReadOnlyDictionary<string, string?> Properties, string? Exception);
