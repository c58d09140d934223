using System.Data.Common;
using System.Diagnostics.Metrics;
using System.Net.Http.Headers;
using System.Security.Cryptography;
using System.Text;
using Microsoft.Extensions.Options;
using OmniGateway.Usage.Storage;

namespace OmniGateway.Usage.Export;

/// <summary>What one sink's delivery loop knows, for metrics and readiness.</summary>
internal sealed class SinkState(string name)
{
    public string Name => name;
    public long Delivered;
    public long Failures;
    public int ConsecutiveFailures;
    public long Pending;
    public long? OldestPendingAtMs;
    public string? LastError;
}

/// <summary>
/// One loop per webhook: reads the oldest outbox rows, POSTs them as a JSON array, deletes them once
/// the sink answered 2xx, and backs off (doubling, capped) while it does not. At least once: a crash
/// between the sink's 2xx and the delete re-sends that batch, which the receiver drops by idempotency key.
/// </summary>
public sealed partial class WebhookDelivery : BackgroundService
{
    public const string SignatureHeader = "x-omnigateway-signature";

    private readonly UsageOutbox _outbox;
    private readonly UsageExportOptions _options;
    private readonly TimeProvider _time;
    private readonly ILogger<WebhookDelivery> _logger;

    public WebhookDelivery(UsageOutbox outbox, IOptions<UsageExportOptions> options, TimeProvider time, IMeterFactory meters, ILogger<WebhookDelivery> logger)
    {
        (_outbox, _options, _time, _logger) = (outbox, options.Value, time, logger);
        States = outbox.Sinks.Select(name => new SinkState(name)).ToArray();

        // Per sink (a bounded label: the configured names).
        var meter = meters.Create(Observability.GatewayMetrics.MeterName);
        meter.CreateObservableCounter("omnigateway.usage_export.delivered", () => Each(s => Interlocked.Read(ref s.Delivered)),
            description: "Usage records the sink acknowledged");
        meter.CreateObservableCounter("omnigateway.usage_export.failures", () => Each(s => Interlocked.Read(ref s.Failures)),
            description: "Delivery attempts that failed (sink down, timeout, non-2xx)");
        meter.CreateObservableGauge("omnigateway.usage_export.pending", () => Each(s => s.Pending),
            description: "Usage records in the outbox the sink has not acknowledged");
        meter.CreateObservableGauge("omnigateway.usage_export.lag", () => Each(LagSeconds), "s",
            "Age of the oldest usage record the sink has not acknowledged");
    }

    private IEnumerable<Measurement<T>> Each<T>(Func<SinkState, T> value) where T : struct =>
        States.Select(s => new Measurement<T>(value(s), new KeyValuePair<string, object?>("sink", s.Name)));

    internal IReadOnlyList<SinkState> States { get; }

    protected override Task ExecuteAsync(CancellationToken stoppingToken) =>
        Task.WhenAll(_options.Webhooks.Select((sink, i) => Task.Run(() => RunAsync(i, sink, stoppingToken), CancellationToken.None)));

    private async Task RunAsync(int index, WebhookSinkOptions sink, CancellationToken stoppingToken)
    {
        var state = States[index];
        using var http = new HttpClient(new SocketsHttpHandler { PooledConnectionLifetime = TimeSpan.FromMinutes(2) }) { Timeout = sink.Timeout };
        var url = new Uri(sink.Url!); // validated at start-up
        var secret = string.IsNullOrEmpty(sink.Secret) ? null : Encoding.UTF8.GetBytes(sink.Secret);
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                var delivered = await DeliverOnceAsync(state, sink.BatchSize, http, url, secret, stoppingToken);
                state.ConsecutiveFailures = 0;
                state.LastError = null;
                await RefreshBacklogAsync(state, stoppingToken);
                if (delivered == 0) await _outbox.Signal(index).WaitAsync(_options.PollInterval, stoppingToken);
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception exception)
            {
                state.ConsecutiveFailures++;
                Interlocked.Increment(ref state.Failures);
                state.LastError = exception is WebhookRejectedException ? exception.Message : exception.GetType().Name;
                var delay = TimeSpan.FromTicks(Math.Min(_options.RetryMaxDelay.Ticks,
                    _options.RetryInitialDelay.Ticks * (1L << Math.Min(state.ConsecutiveFailures - 1, 20))));
                Log.DeliveryFailed(_logger, exception, state.Name, state.ConsecutiveFailures, delay.TotalSeconds);
                try
                {
                    await RefreshBacklogAsync(state, stoppingToken);
                    // Real time: a back-off, which a test's frozen clock must not stall.
                    await Task.Delay(delay, stoppingToken);
                }
                catch (OperationCanceledException)
                {
                    return;
                }
                catch (Exception)
                {
                    // The store itself is failing; its own health check says so. Back off and try again.
                }
            }
        }
    }

    private async Task<int> DeliverOnceAsync(SinkState state, int batchSize, HttpClient http, Uri url, byte[]? secret, CancellationToken cancellationToken)
    {
        await using var connection = await _outbox.Database.OpenAsync(cancellationToken);
        DbTransaction? transaction = null;
        try
        {
            if (_outbox.Database.Provider == UsageProvider.Postgres)
            {
                // Several instances share the outbox: one delivers a sink at a time, so its order holds.
                // The lock is the transaction's, so a killed instance lets go with its connection.
                transaction = await connection.BeginTransactionAsync(cancellationToken);
                await using var lockCommand = connection.CreateCommand();
                lockCommand.Transaction = transaction;
                lockCommand.CommandText = "SELECT pg_try_advisory_xact_lock(@key)";
                lockCommand.AddParameter("@key", LockKey(state.Name));
                if (await lockCommand.ExecuteScalarAsync(cancellationToken) is not true)
                {
                    await transaction.CommitAsync(cancellationToken);
                    return 0;
                }
            }
            var rows = await UsageOutbox.ReadAsync(connection, transaction, state.Name, batchSize, cancellationToken);
            if (rows.Count > 0)
            {
                await PostAsync(http, url, secret, state.Name, rows, cancellationToken);
                await UsageOutbox.DeleteAsync(connection, transaction, state.Name, rows, cancellationToken);
                Interlocked.Add(ref state.Delivered, rows.Count);
            }
            if (transaction is not null) await transaction.CommitAsync(cancellationToken);
            return rows.Count;
        }
        finally
        {
            if (transaction is not null) await transaction.DisposeAsync();
        }
    }

    private async Task PostAsync(HttpClient http, Uri url, byte[]? secret, string sink, List<OutboxRow> rows, CancellationToken cancellationToken)
    {
        var body = new StringBuilder(rows.Sum(r => r.Payload.Length + 1) + 2).Append('[');
        for (var i = 0; i < rows.Count; i++) body.Append(i == 0 ? "" : ",").Append(rows[i].Payload);
        var bytes = Encoding.UTF8.GetBytes(body.Append(']').ToString());

        using var request = new HttpRequestMessage(HttpMethod.Post, url) { Content = new ByteArrayContent(bytes) };
        request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/json") { CharSet = "utf-8" };
        request.Headers.UserAgent.ParseAdd("OmniGateway-UsageExport/1");
        request.Headers.Add("x-omnigateway-sink", sink);
        if (secret is not null) request.Headers.Add(SignatureHeader, Sign(secret, _time.GetUtcNow().ToUnixTimeSeconds(), bytes));
        using var response = await http.SendAsync(request, cancellationToken);
        if (!response.IsSuccessStatusCode) throw new WebhookRejectedException((int)response.StatusCode);
    }

    /// <summary><c>t=&lt;unix seconds&gt;,v1=&lt;hex HMAC-SHA256(secret, "&lt;t&gt;." + body)&gt;</c>: the timestamp is signed, so a replay can be refused by age.</summary>
    public static string Sign(byte[] secret, long unixSeconds, ReadOnlySpan<byte> body)
    {
        var prefix = Encoding.ASCII.GetBytes(unixSeconds.ToString(System.Globalization.CultureInfo.InvariantCulture) + ".");
        var signed = new byte[prefix.Length + body.Length];
        prefix.CopyTo(signed, 0);
        body.CopyTo(signed.AsSpan(prefix.Length));
        return $"t={unixSeconds.ToString(System.Globalization.CultureInfo.InvariantCulture)},v1={Convert.ToHexStringLower(HMACSHA256.HashData(secret, signed))}";
    }

    private async Task RefreshBacklogAsync(SinkState state, CancellationToken cancellationToken)
    {
        var (pending, oldest) = await _outbox.BacklogAsync(state.Name, cancellationToken);
        (state.Pending, state.OldestPendingAtMs) = (pending, oldest);
    }

    /// <summary>Lag: how long the oldest undelivered record has waited (0 when none waits).</summary>
    internal double LagSeconds(SinkState state) =>
        state.OldestPendingAtMs is { } oldest ? Math.Max(0, (_time.GetUtcNow().ToUnixTimeMilliseconds() - oldest) / 1000.0) : 0;

    private static long LockKey(string sink)
    {
        var hash = 2166136261u; // FNV-1a: stable across processes, unlike string.GetHashCode
        foreach (var c in sink) hash = (hash ^ c) * 16777619u;
        return 7364100L * 65536 + (hash & 0xFFFF);
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 7040, Level = LogLevel.Warning,
            Message = "Usage export to {Sink} failed ({ConsecutiveFailures} in a row); records stay in the outbox, next try in {RetrySeconds} s")]
        public static partial void DeliveryFailed(ILogger logger, Exception exception, string sink, int consecutiveFailures, double retrySeconds);
    }
}

/// <summary>The sink answered, but not 2xx: nothing is acknowledged, the batch is retried.</summary>
public sealed class WebhookRejectedException(int status) : Exception($"the sink answered HTTP {status}")
{
    public int Status => status;
}
