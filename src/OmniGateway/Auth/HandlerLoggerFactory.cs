using System.Collections.Concurrent;

namespace OmniGateway.Auth;

/// <summary>
/// The logger factory the authentication handler is built with. ASP.NET Core makes a handler per request and
/// each asks its factory for a logger; Serilog's factory makes a new logger (and its event-id cache) every
/// time, a few hundred bytes per request (bench/: allocated per stream). This one makes each category once.
/// </summary>
public sealed class HandlerLoggerFactory(ILoggerFactory loggers) : ILoggerFactory
{
    private readonly ConcurrentDictionary<string, ILogger> _made = new(StringComparer.Ordinal);

    public ILogger CreateLogger(string categoryName) => _made.GetOrAdd(categoryName, loggers.CreateLogger);

    public void AddProvider(ILoggerProvider provider) => loggers.AddProvider(provider);

    /// <summary>The container's factory is disposed by the container, not through this view of it.</summary>
    public void Dispose()
    {
    }
}
