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
    /// <summary>How often SQLite's WAL is folded back into the database, between commits.</summary>
    private static readonly TimeSpan CheckpointInterval = TimeSpan.FromSeconds(1);

    private static readonly TimeSpan[] RetryDelays = [TimeSpan.FromMilliseconds(50), TimeSpan.FromMilliseconds(250), TimeSpan.FromSeconds(1)];

    private readonly Channel<Pending> _queue = Channel.CreateUnbounded<Pending>(new UnboundedChannelOptions { SingleReader = true });
    private readonly SqlUsageStore _store;
    private readonly TokenBudgets _budgets;
    private readonly UsageOptions _options;
    private readonly TimeProvider _time;
    private readonly UsageJournal _journal;
    private readonly ILogger<GroupCommitLedger> _logger;
    private readonly CancellationTokenSource _stopping = new();
    private Task _writer = Task.CompletedTask;
    private Task _refresher = Task.CompletedTask;
    private int _disposed;
    private long _queued;

    /// <param name="journal">Where failed commits' records wait; by default the one <c>Usage:JournalPath</c> names.</param>
    public GroupCommitLedger(SqlUsageStore store, TokenBudgets budgets, IOptions<UsageOptions> options, TimeProvider time, ILogger<GroupCommitLedger> logger,
        UsageJournal? journal = null)
    {
        (_store, _budgets, _options, _time, _logger) = (store, budgets, options.Value, time, logger);
        _journal = journal ?? new UsageJournal(options, Microsoft.Extensions.Logging.Abstractions.NullLogger<UsageJournal>.Instance);
    }

    /// <summary>Batches committed and records in them since start: how well commits are shared.</summary>
    public long Commits { get; private set; }
    public long RecordsCommitted { get; private set; }

    /// <summary>Time spent inside commits: divided by <see cref="RecordsCommitted"/>, what durability costs one record.</summary>
    public TimeSpan CommitTime { get; private set; }

    /// <summary>Records queued and not yet taken by the writer. Counted here: this channel kind cannot count itself.</summary>
    public long QueueDepth => Volatile.Read(ref _queued);

    /// <summary>Set while the last commit failed; readiness reports it.</summary>
    public Exception? LastFailure { get; private set; }

    /// <summary>Records of failed commits waiting in the local journal for the store; readiness reports them.</summary>
    public int JournalPending => _journal.Pending;

    /// <summary>Replays what a store outage left in the journal, loads budget totals, then starts the writer. Called once the schema is in place.</summary>
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        await ReplayJournalAsync();
        _budgets.Reload(await _store.ReadTotalsAsync(_time.GetUtcNow(), cancellationToken), _time.GetUtcNow());
        _writer = Task.Run(WriteLoopAsync, CancellationToken.None);
        _refresher = Task.Run(RefreshLoopAsync, CancellationToken.None);
    }

    /// <summary>
    /// Returns once the record is committed. The token is not honoured once the record is queued:
    /// the writer commits every queued record before the process ends, so giving up the wait would
    /// only hide a commit that happens anyway (and, in the relay, withhold a completion already paid for).
    /// </summary>
    public ValueTask AppendAsync(UsageRecord record, CancellationToken cancellationToken)
    {
        var pending = new Pending(record);
        Interlocked.Increment(ref _queued);
        if (!_queue.Writer.TryWrite(pending))
        {
            Interlocked.Decrement(ref _queued);
            throw new InvalidOperationException("The usage ledger has shut down; the record was not stored.");
        }
        return new ValueTask(pending.Task);
    }

    private async Task WriteLoopAsync()
    {
        var batch = new List<Pending>(_options.MaxBatchSize);
        var records = new List<UsageRecord>(_options.MaxBatchSize);
        var reader = _queue.Reader;
        var lastCheckpoint = _time.GetTimestamp();
        while (await reader.WaitToReadAsync(CancellationToken.None))
        {
            var refresh = false;
            batch.Clear();
            while (batch.Count < _options.MaxBatchSize && reader.TryRead(out var item))
            {
                if (item.Record is null) refresh = true;
                else batch.Add(item);
            }
            Interlocked.Add(ref _queued, -batch.Count);
            if (batch.Count > 0)
            {
                records.Clear();
                foreach (var item in batch) records.Add(item.Record!); // refresh markers were set aside above
                await CommitAsync(batch, records);
            }
            // Journaled records go in once the store takes writes again: right after a commit succeeds, or on the refresh tick.
            if ((refresh || (batch.Count > 0 && LastFailure is null)) && _journal.Pending > 0) await ReplayJournalAsync();
            // In this loop, not beside it: a reload can then never overwrite a newer commit's totals.
            if (refresh) await ReloadBudgetsAsync();
            // Also between commits, so that it reaches the WAL's end (SqlUsageStore.CheckpointAsync). Its few
            // milliseconds a second delay the streams ending meanwhile by as much; they share the next commit.
            // The refresh marker comes by every few seconds, so an idle ledger's WAL is folded back too.
            if (_time.GetElapsedTime(lastCheckpoint) >= CheckpointInterval)
            {
                await CheckpointAsync();
                lastCheckpoint = _time.GetTimestamp();
            }
        }
    }

    private async Task CheckpointAsync()
    {
        try
        {
            await _store.CheckpointAsync(CancellationToken.None);
        }
        catch (Exception exception)
        {
            Log.CheckpointFailed(_logger, exception);
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
                // The calls are still told (their completions withheld), but the records are not lost:
                // the journal holds them, fsync'ed, until the store takes them.
                JournalFailedBatch(records);
                foreach (var item in batch) item.TrySetException(exception);
                return;
            }
        }
    }

    private void JournalFailedBatch(List<UsageRecord> records)
    {
        try
        {
            _journal.Append(records);
        }
        catch (Exception exception)
        {
            Log.JournalFailed(_logger, exception, records.Count, _journal.FilePath);
        }
    }

    /// <summary>
    /// Stores what the journal holds, skipping records the store already has (a commit in doubt, or a
    /// crash between the store's commit and the journal's clearing), so a replay never counts twice.
    /// </summary>
    private async Task ReplayJournalAsync()
    {
        var journaled = _journal.ReadAll();
        if (journaled.Count == 0) return;
        try
        {
            var stored = await _store.StoredOfAsync(journaled, CancellationToken.None);
            var missing = journaled.Where(r => !stored.Contains(r)).ToList();
            if (missing.Count > 0)
            {
                var started = _time.GetTimestamp();
                var totals = await _store.AppendAsync(missing, CancellationToken.None);
                CommitTime += _time.GetElapsedTime(started);
                Commits++;
                RecordsCommitted += missing.Count;
                _budgets.Apply(totals);
            }
            _journal.Clear();
            LastFailure = null;
            Log.JournalReplayed(_logger, missing.Count, journaled.Count - missing.Count);
        }
        catch (Exception exception)
        {
            LastFailure = exception;
            Log.JournalReplayFailed(_logger, exception, journaled.Count);
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

        [LoggerMessage(EventId = 7014, Level = LogLevel.Critical, Message = "{RecordCount} usage records could not be journaled to {JournalPath} either; they are lost")]
        public static partial void JournalFailed(ILogger logger, Exception exception, int recordCount, string journalPath);

        [LoggerMessage(EventId = 7015, Level = LogLevel.Information, Message = "Usage journal replayed into the store: {Stored} records stored, {AlreadyStored} were already there")]
        public static partial void JournalReplayed(ILogger logger, int stored, int alreadyStored);

        [LoggerMessage(EventId = 7016, Level = LogLevel.Warning, Message = "Usage journal replay of {RecordCount} records failed; the journal keeps them and the next tick retries")]
        public static partial void JournalReplayFailed(ILogger logger, Exception exception, int recordCount);

        [LoggerMessage(EventId = 7013, Level = LogLevel.Warning, Message = "SQLite WAL checkpoint failed; the next one retries")]
        public static partial void CheckpointFailed(ILogger logger, Exception exception);

        [LoggerMessage(EventId = 7012, Level = LogLevel.Warning, Message = "Budget totals could not be reloaded from the usage store; keeping the last known")]
        public static partial void BudgetRefreshFailed(ILogger logger, Exception exception);
    }
}
