using System.Text;
using System.Text.Json;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using OmniGateway.Observability;
using Serilog;
using Serilog.Core;
using Serilog.Events;

namespace OmniGateway.Tests.Observability;

/// <summary>
/// A call's log line reuses its property dictionary only where every sink is done with an event when Write returns
/// (the JSON console alone); there, many threads writing two kinds of line at once still get every line whole, each
/// with exactly its own properties.
/// </summary>
public sealed class CallLogLineTests
{
    private static readonly Microsoft.Extensions.Logging.EventId Access = new(200, "AccessLog");
    private static readonly Microsoft.Extensions.Logging.EventId Usage = new(7000, "UsageRecorded");

    [Fact]
    public void WithReuse_EveryLineOfEveryThread_CarriesExactlyItsOwnProperties()
    {
        var output = new MemoryStream();
        var sink = new ConsoleLineSink(new CompactJsonLineFormatter(), output);
        using (var logger = new LoggerConfiguration().Enrich.FromLogContext().WriteTo.Sink(sink).CreateLogger())
        {
            var reuse = new CallLogSinks(FormatBeforeReturning: true);
            var access = new CallLogLine(logger, "Test.Access", Access, "{Method} {Path} {StatusCode} request {RequestId}", reuse);
            var usage = new CallLogLine(logger, "Test.Usage", Usage, "UsageRecorded {RequestId} tenant {TenantId} tokens {TotalTokens} voice {Voice}", reuse);
            Parallel.For(0, 4, thread =>
            {
                for (var i = 0; i < 2_000; i++)
                {
                    var id = $"req_{thread}_{i}";
                    var u = usage.NewProperties();
                    u["RequestId"] = CallLogLine.Scalar(id);
                    u["TenantId"] = CallLogLine.Known(thread % 2 == 0 ? "even" : "odd");
                    u["TotalTokens"] = CallLogLine.Scalar((long)i);
                    u["Voice"] = CallLogLine.Known(i % 3 == 0 ? null : "Tina");
                    usage.Write(LogEventLevel.Information, u);
                    var a = access.NewProperties();
                    a["Method"] = CallLogLine.Known("POST");
                    a["Path"] = CallLogLine.Scalar("/v1/responses");
                    a["StatusCode"] = CallLogLine.Status(i % 2 == 0 ? 200 : 429);
                    a["RequestId"] = CallLogLine.Scalar(id);
                    access.Write(LogEventLevel.Information, a);
                }
            });
        }

        var lines = Encoding.UTF8.GetString(output.ToArray()).Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(2 * 4 * 2_000, lines.Length);
        foreach (var line in lines)
        {
            using var json = JsonDocument.Parse(line);
            var root = json.RootElement;
            var id = root.GetProperty("RequestId").GetString()!;
            var parts = id.Split('_');
            var (thread, i) = (int.Parse(parts[1]), int.Parse(parts[2]));
            var names = root.EnumerateObject().Select(p => p.Name).Where(n => !n.StartsWith('@')).Order(StringComparer.Ordinal).ToArray();
            if (root.GetProperty("EventId").GetProperty("Id").GetInt32() == Usage.Id)
            {
                Assert.Equal(["EventId", "RequestId", "SourceContext", "TenantId", "TotalTokens", "Voice"], names);
                Assert.Equal(thread % 2 == 0 ? "even" : "odd", root.GetProperty("TenantId").GetString());
                Assert.Equal(i, root.GetProperty("TotalTokens").GetInt64());
                Assert.Equal(i % 3 == 0 ? JsonValueKind.Null : JsonValueKind.String, root.GetProperty("Voice").ValueKind);
            }
            else
            {
                Assert.Equal(["EventId", "Method", "Path", "RequestId", "SourceContext", "StatusCode"], names);
                Assert.Equal(i % 2 == 0 ? 200 : 429, root.GetProperty("StatusCode").GetInt32());
            }
        }
    }

    [Fact]
    public void OnlyWithReuse_IsTheDictionaryHandedOutAgain()
    {
        using var logger = new LoggerConfiguration().CreateLogger();
        foreach (var reuse in new[] { false, true })
        {
            var line = new CallLogLine(logger, "Test", Access, "{A}", new CallLogSinks(reuse));
            var first = line.NewProperties();
            first["A"] = CallLogLine.Scalar(1);
            line.Write(LogEventLevel.Information, first);
            var second = line.NewProperties();
            Assert.Equal(reuse, ReferenceEquals(first, second));
            Assert.Empty(second);
        }
    }

    [Fact]
    public void ReuseIsDecided_OnlyForTheJsonConsoleAlone()
    {
        Assert.True(Decide(json: true));
        Assert.False(Decide(json: false)); // the text console writes from an async queue
        Assert.False(Decide(json: true, services => services.AddSingleton<ILoggerProvider>(NullLoggerProvider.Instance)));
        Assert.False(Decide(json: true, services => services.AddSingleton<ILogEventSink>(new KeepingSink())));
        Assert.False(Decide(json: true, configuration: new() { ["Serilog:WriteTo:0:Name"] = "File" }));
        Assert.False(Decide(json: true, configuration: new() { ["Serilog:AuditTo:0:Name"] = "Seq" }));
    }

    private static bool Decide(bool json, Action<IServiceCollection>? register = null, Dictionary<string, string?>? configuration = null)
    {
        var services = new ServiceCollection();
        register?.Invoke(services);
        using var provider = services.BuildServiceProvider();
        var config = new ConfigurationBuilder().AddInMemoryCollection(configuration ?? []).Build();
        return CallLogSinks.Decide(provider, config, json).FormatBeforeReturning;
    }

    private sealed class KeepingSink : ILogEventSink
    {
        public List<LogEvent> Kept { get; } = [];
        public void Emit(LogEvent logEvent) => Kept.Add(logEvent);
    }
}
