using System.Threading.Channels;
using Microsoft.Extensions.Options;
using OmniGateway.Usage.Storage;

namespace OmniGateway.Usage;

/// <summary>
/// The durable ledger. Each <see cref="AppendAsync"/> queues its record and waits; one writer loop
/// takes everything queued, stores it in one transaction (one fsync), then releases every waiter.
/// Hundreds of streams ending together thus share a commit instead of queueing for one each, and
/// nothing is acknowledged before it is on disk: no spend lives only in memory.
/// </summary>
public sealed partial class GroupCommitLedger : IUsageLedger, IAsyncDisposable
{
    private static readonly TimeSpan[] RetryDelays = [TimeSpan.FromMilliseconds(50), TimeSpan.FromMilliseconds(250), TimeSpan.FromSeconds(1)];

    private readonly Channel<Pending> _queue = Channel.CreateUnbounded<Pending>(new UnboundedChannelOptions { SingleReader = true });
    private readonly SqlUsageStore _store;
    private readonly TokenBudgets _budgets;
    private readonly UsageOptions _options;
    private readonly TimeProvider _time;
    private readonly ILogger<GroupCommitLedger> _logger;
    private readonly CancellationTokenSource _stopping = new();
    private Task _writer = Task.CompletedTask;
    private Task _refresher = Task.CompletedTask;
    private Task _checkpointer = Task.CompletedTask;
    private int _disposed;

    public GroupCommitLedger(SqlUsageStore store, TokenBudgets budgets, IOptions<UsageOptions> options, TimeProvider time, ILogger<GroupCommitLedger> logger)
    {
        (_store, _budgets, _options, _time, _logger) = (store, budgets, options.Value, time, logger);
    }

    /// <summary>Batches committed and records in them since start: how well commits are shared.</summary>
    public long Commits { get; private set; }
    public long RecordsCommitted { get; private set; }

    /// <summary>Time spent inside commits: divided by <see cref="RecordsCommitted"/>, what durability costs one record.</summary>
    public TimeSpan CommitTime { get; private set; }

    /// <summary>Set while the last commit failed; readiness reports it.</summary>
    public Exception? LastFailure { get; private set; }

    /// <summary>Loads budget totals, then starts the writer. Called once the schema is in place.</summary>
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        _budgets.Reload(await _store.ReadTotalsAsync(_time.GetUtcNow(), cancellationToken), _time.GetUtcNow());
        _writer = Task.Run(WriteLoopAsync, CancellationToken.None);
        _refresher = Task.Run(RefreshLoopAsync, CancellationToken.None);
        _checkpointer = Task.Run(CheckpointLoopAsync, CancellationToken.None);
    }

    /// <summary>
    /// Returns once the record is committed. The token is not honoured once the record is queued:
    /// the writer commits every queued record before the process ends, so giving up the wait would
    /// only hide a commit that happens anyway (and, in the relay, withhold a completion already paid for).
    /// </summary>
    public ValueTask AppendAsync(UsageRecord record, CancellationToken cancellationToken)
    {
        var pending = new Pending(record);
        if (!_queue.Writer.TryWrite(pending)) throw new InvalidOperationException("The usage ledger has shut down; the record was not stored.");
        return new ValueTask(pending.Task);
    }

    private async Task WriteLoopAsync()
    {
        var batch = new List<Pending>(_options.MaxBatchSize);
        var records = new List<UsageRecord>(_options.MaxBatchSize);
        var reader = _queue.Reader;
        while (await reader.WaitToReadAsync(CancellationToken.None))
        {
            var refresh = false;
            batch.Clear();
            while (batch.Count < _options.MaxBatchSize && reader.TryRead(out var item))
            {
                if (item.Record is null) refresh = true;
                else batch.Add(item);
            }
            if (batch.Count > 0)
            {
                records.Clear();
                foreach (var item in batch) records.Add(item.Record!); // refresh markers were set aside above
                await CommitAsync(batch, records);
            }
            // In this loop, not beside it: a reload can then never overwrite a newer commit's totals.
            if (refresh) await ReloadBudgetsAsync();
        }
    }

    private async Task CommitAsync(List<Pending> batch, List<UsageRecord> records)
    {
        for (var attempt = 0; ; attempt++)
        {
            try
            {
                var started = _time.GetTimestamp();
                var totals = await _store.AppendAsync(records, CancellationToken.None);
                CommitTime += _time.GetElapsedTime(started);
                Commits++;
                RecordsCommitted += records.Count;
                LastFailure = null;
                _budgets.Apply(totals);
                foreach (var item in batch) item.TrySetResult();
                return;
            }
            catch (Exception exception) when (attempt < RetryDelays.Length && exception is not UsageCommitInDoubtException && !_stopping.IsCancellationRequested)
            {
                // Failed before COMMIT, so nothing was stored and a retry cannot double-count; a busy lock
                // or a restarting Postgres usually clears within a second. Real time: this is a back-off,
                // and a test's frozen clock must not stall the writer.
                LastFailure = exception;
                Log.CommitRetrying(_logger, exception, records.Count, attempt + 1);
                await Task.Delay(RetryDelays[attempt]);
            }
            catch (Exception exception)
            {
                LastFailure = exception;
                Log.CommitFailed(_logger, exception, records.Count);
                foreach (var item in batch) item.TrySetException(exception);
                return;
            }
        }
    }

    private async Task RefreshLoopAsync()
    {
        using var timer = new PeriodicTimer(_options.BudgetRefreshInterval, _time);
        try
        {
            while (await timer.WaitForNextTickAsync(_stopping.Token)) _queue.Writer.TryWrite(new Pending(null));
        }
        catch (OperationCanceledException)
        {
        }
    }

    /// <summary>SQLite's WAL is folded back once a second, beside the writer rather than inside a commit.</summary>
    private async Task CheckpointLoopAsync()
    {
        if (_store.Database.Provider != UsageProvider.Sqlite) return;
        using var timer = new PeriodicTimer(TimeSpan.FromSeconds(1), _time);
        try
        {
            while (await timer.WaitForNextTickAsync(_stopping.Token))
            {
                try
                {
                    await _store.Database.CheckpointAsync(_stopping.Token);
                }
                catch (Exception exception) when (exception is not OperationCanceledException)
                {
                    Log.CheckpointFailed(_logger, exception);
                }
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    private async Task ReloadBudgetsAsync()
    {
        try
        {
            var now = _time.GetUtcNow();
            _budgets.Reload(await _store.ReadTotalsAsync(now, CancellationToken.None), now);
        }
        catch (Exception exception)
        {
            Log.BudgetRefreshFailed(_logger, exception);
        }
    }

    /// <summary>After the server has stopped (so no call is still ending): commit what is queued, then stop.</summary>
    public async ValueTask DisposeAsync()
    {
        // Registered as itself and as IUsageLedger, so the container disposes it twice.
        if (Interlocked.Exchange(ref _disposed, 1) == 1) return;
        await _stopping.CancelAsync();
        _queue.Writer.TryComplete();
        await _refresher;
        await _checkpointer;
        await _writer;
        _stopping.Dispose();
    }

    /// <summary>A queued record and its waiter; a null record asks the writer to reload budget totals.</summary>
    private sealed class Pending(UsageRecord? record) : TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)
    {
        public UsageRecord? Record => record;
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 7010, Level = LogLevel.Warning, Message = "Usage commit of {RecordCount} records failed (attempt {Attempt}); retrying")]
        public static partial void CommitRetrying(ILogger logger, Exception exception, int recordCount, int attempt);

        [LoggerMessage(EventId = 7011, Level = LogLevel.Error, Message = "Usage commit of {RecordCount} records failed; their calls are told so")]
        public static partial void CommitFailed(ILogger logger, Exception exception, int recordCount);

        [LoggerMessage(EventId = 7013, Level = LogLevel.Warning, Message = "SQLite WAL checkpoint failed; the next one retries")]
        public static partial void CheckpointFailed(ILogger logger, Exception exception);

        [LoggerMessage(EventId = 7012, Level = LogLevel.Warning, Message = "Budget totals could not be reloaded from the usage store; keeping the last known")]
        public static partial void BudgetRefreshFailed(ILogger logger, Exception exception);
    }
}
