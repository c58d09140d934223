using System.Collections.Concurrent;
using System.Threading.Channels;
using System.Threading.Tasks.Sources;
using Microsoft.Extensions.Options;
using OmniGateway.Usage.Storage;

namespace OmniGateway.Usage;

/// <summary>
/// The durable ledger. Each <see cref="AppendAsync"/> queues its record and waits; whoever commits takes
/// everything queued, stores it in one transaction (one fsync), then releases every waiter. Hundreds of
/// streams ending together thus share a commit instead of queueing for one each, and nothing is
/// acknowledged before it is on disk: no spend lives only in memory.
/// </summary>
/// <remarks>
/// Who commits (issue 11, thread hops at stream end): when no commit is under way, the stream that ends
/// commits its own record on its own thread and goes on without waking anyone or being woken. Records
/// that arrive meanwhile wait; if any are queued when that commit ends (or upkeep is due: checkpoint,
/// journal replay, budget reload), a thread-pool work item takes over and commits until the queue is
/// empty, as the old dedicated writer loop did. One committer at a time (<see cref="_committing"/>), so
/// commits, replays and reloads stay serialised. A waiter that is not the committer resumes on the thread
/// pool: the committer never runs a stream's code.
/// </remarks>
public sealed partial class GroupCommitLedger : IUsageLedger, IAsyncDisposable
{
    /// <summary>How often SQLite's WAL is folded back into the database, between commits.</summary>
    private static readonly TimeSpan CheckpointInterval = TimeSpan.FromSeconds(1);

    private static readonly TimeSpan[] RetryDelays = [TimeSpan.FromMilliseconds(50), TimeSpan.FromMilliseconds(250), TimeSpan.FromSeconds(1)];

    /// <summary>Queued by the refresh timer: the committer reloads budget totals (never stored, never awaited).</summary>
    private static readonly Pending RefreshMarker = new();

    private readonly Channel<Pending> _queue = Channel.CreateUnbounded<Pending>(new UnboundedChannelOptions { SingleReader = true });
    private readonly SqlUsageStore _store;
    private readonly TokenBudgets _budgets;
    private readonly UsageOptions _options;
    private readonly TimeProvider _time;
    private readonly UsageJournal _journal;
    private readonly ILogger<GroupCommitLedger> _logger;
    private readonly CancellationTokenSource _stopping = new();
    private readonly List<Pending> _batch;
    private readonly List<UsageRecord> _records;
    private readonly Action<object?> _commitQueued;
    private Task _refresher = Task.CompletedTask;
    private int _disposed;
    private long _queued;
    private volatile bool _started;

    /// <summary>1 while some thread commits (or the ledger has shut down); only that thread reads the queue.</summary>
    private int _committing;

    // Touched only by the committer.
    private long _lastCheckpoint;
    private bool _refreshDue;
    private bool _replayDue;

    /// <param name="journal">Where failed commits' records wait; by default the one <c>Usage:JournalPath</c> names.</param>
    public GroupCommitLedger(SqlUsageStore store, TokenBudgets budgets, IOptions<UsageOptions> options, TimeProvider time, ILogger<GroupCommitLedger> logger,
        UsageJournal? journal = null)
    {
        (_store, _budgets, _options, _time, _logger) = (store, budgets, options.Value, time, logger);
        _journal = journal ?? new UsageJournal(options, Microsoft.Extensions.Logging.Abstractions.NullLogger<UsageJournal>.Instance);
        _batch = new List<Pending>(_options.MaxBatchSize);
        _records = new List<UsageRecord>(_options.MaxBatchSize);
        _commitQueued = state => _ = ((GroupCommitLedger)state!).CommitUntilEmptyAsync();
    }

    /// <summary>Batches committed and records in them since start: how well commits are shared.</summary>
    public long Commits { get; private set; }
    public long RecordsCommitted { get; private set; }

    /// <summary>Time spent inside commits: divided by <see cref="RecordsCommitted"/>, what durability costs one record.</summary>
    public TimeSpan CommitTime { get; private set; }

    /// <summary>Records queued and not yet taken by a commit. Counted here: this channel kind cannot count itself.</summary>
    public long QueueDepth => Volatile.Read(ref _queued);

    /// <summary>Set while the last commit failed; readiness reports it.</summary>
    public Exception? LastFailure { get; private set; }

    /// <summary>Records of failed commits waiting in the local journal for the store; readiness reports them.</summary>
    public int JournalPending => _journal.Pending;

    /// <summary>Replays what a store outage left in the journal, loads budget totals, then takes records. Called once the schema is in place.</summary>
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        await ReplayJournalAsync();
        _budgets.Reload(await _store.ReadTotalsAsync(_time.GetUtcNow(), cancellationToken), _time.GetUtcNow());
        _lastCheckpoint = _time.GetTimestamp();
        _started = true;
        HandOver(); // whatever was queued before start
        _refresher = Task.Run(RefreshLoopAsync, CancellationToken.None);
    }

    /// <summary>
    /// Returns once the record is committed. The token is not honoured once the record is queued:
    /// every queued record is committed before the process ends, so giving up the wait would only hide
    /// a commit that happens anyway (and, in the relay, withhold a completion already paid for).
    /// </summary>
    public ValueTask AppendAsync(UsageRecord record, CancellationToken cancellationToken)
    {
        var pending = Pending.Rent(record);
        var committed = pending.Task; // taken before it is queued: once queued, it may complete at once
        Interlocked.Increment(ref _queued);
        if (!_queue.Writer.TryWrite(pending))
        {
            Interlocked.Decrement(ref _queued);
            throw new InvalidOperationException("The usage ledger has shut down; the record was not stored.");
        }
        if (!_started || Interlocked.CompareExchange(ref _committing, 1, 0) != 0) return committed; // the committer takes it
        var commit = CommitOnceAsync();
        return commit.IsCompletedSuccessfully ? committed : AfterCommitAsync(commit, committed);

        static async ValueTask AfterCommitAsync(ValueTask commit, ValueTask committed)
        {
            await commit;
            await committed;
        }
    }

    /// <summary>
    /// The committer's turn on a stream's own thread: one batch (its own record among it), then the work
    /// goes to the thread pool if anything else is waiting, else the turn ends. Never throws: a failed
    /// commit is each waiter's answer.
    /// </summary>
    private async ValueTask CommitOnceAsync()
    {
        await CommitBatchAsync();
        if (UpkeepDue || _queue.Reader.TryPeek(out _) || !TryEndTurn()) ThreadPool.UnsafeQueueUserWorkItem(_commitQueued, this, preferLocal: false);
    }

    /// <summary>The committer's turn on the thread pool: commits and upkeep until nothing is queued, as a writer loop would.</summary>
    private async Task CommitUntilEmptyAsync()
    {
        do
        {
            do
            {
                await CommitBatchAsync();
                await UpkeepAsync();
            }
            while (_queue.Reader.TryPeek(out _));
        }
        while (!TryEndTurn());
    }

    /// <summary>Starts a thread-pool turn unless a committer is at work (it will see what was queued).</summary>
    private void HandOver()
    {
        if (Interlocked.CompareExchange(ref _committing, 1, 0) == 0) ThreadPool.UnsafeQueueUserWorkItem(_commitQueued, this, preferLocal: false);
    }

    /// <summary>
    /// Ends the committer's turn. A record queued after the last look found a committer at work and left
    /// its commit to it; so look again, and take the turn back if nobody else did (false: still committing).
    /// </summary>
    private bool TryEndTurn()
    {
        Volatile.Write(ref _committing, 0);
        if (!_queue.Reader.TryPeek(out _) && !UpkeepDue) return true;
        return Interlocked.CompareExchange(ref _committing, 1, 0) != 0;
    }

    private bool UpkeepDue => _refreshDue || _replayDue || _time.GetElapsedTime(Volatile.Read(ref _lastCheckpoint)) >= CheckpointInterval;

    /// <summary>Takes what is queued (up to a batch) and commits it; refresh markers are set aside for upkeep.</summary>
    private async ValueTask CommitBatchAsync()
    {
        var reader = _queue.Reader;
        _batch.Clear();
        while (_batch.Count < _options.MaxBatchSize && reader.TryRead(out var item))
        {
            if (item.Record is null) _refreshDue = true;
            else _batch.Add(item);
        }
        if (_batch.Count == 0) return;
        Interlocked.Add(ref _queued, -_batch.Count);
        _records.Clear();
        foreach (var item in _batch) _records.Add(item.Record!); // refresh markers were set aside above
        await CommitAsync(_batch, _records);
        // Journaled records go in once the store takes writes again: right after a commit succeeds, or on the refresh tick.
        if (LastFailure is null && _journal.Pending > 0) _replayDue = true;
        _batch.Clear();
        _records.Clear();
    }

    private async ValueTask UpkeepAsync()
    {
        if ((_refreshDue || _replayDue) && _journal.Pending > 0) await ReplayJournalAsync();
        _replayDue = false;
        // By the committer, not beside it: a reload can then never overwrite a newer commit's totals.
        if (_refreshDue)
        {
            _refreshDue = false;
            await ReloadBudgetsAsync();
        }
        // Also between commits, so that it reaches the WAL's end (SqlUsageStore.CheckpointAsync). Its few
        // milliseconds a second delay the streams ending meanwhile by as much; they share the next commit.
        // The refresh marker comes by every few seconds, so an idle ledger's WAL is folded back too.
        if (_time.GetElapsedTime(_lastCheckpoint) >= CheckpointInterval)
        {
            await CheckpointAsync();
            Volatile.Write(ref _lastCheckpoint, _time.GetTimestamp());
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
                foreach (var item in batch) item.Succeed();
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
                foreach (var item in batch) item.Fail(exception);
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
            while (await timer.WaitForNextTickAsync(_stopping.Token))
            {
                if (_queue.Writer.TryWrite(RefreshMarker)) HandOver();
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
        // Wait out the committer at work, then take the last turn for good: nothing is queued after this.
        while (Interlocked.CompareExchange(ref _committing, 1, 0) != 0) await Task.Delay(10);
        while (_queue.Reader.TryPeek(out _)) await CommitBatchAsync();
        _stopping.Dispose();
    }

    /// <summary>
    /// A queued record and its waiter, pooled: a stream end allocates no waiter. Awaited once (the
    /// <see cref="IUsageLedger"/> contract's ValueTask), after which it goes back to the pool.
    /// A waiter resumes on the thread pool, never inside the committer.
    /// </summary>
    private sealed class Pending : IValueTaskSource
    {
        private const int PoolSize = 1024;
        private static readonly ConcurrentQueue<Pending> Pool = new();
        private static int _pooled;

        private ManualResetValueTaskSourceCore<bool> _core = new() { RunContinuationsAsynchronously = true };

        public UsageRecord? Record { get; private set; }

        public ValueTask Task => new(this, _core.Version);

        public static Pending Rent(UsageRecord record)
        {
            if (Pool.TryDequeue(out var pending)) Interlocked.Decrement(ref _pooled);
            else pending = new Pending();
            pending.Record = record;
            return pending;
        }

        public void Succeed() => _core.SetResult(true);

        public void Fail(Exception exception) => _core.SetException(exception);

        void IValueTaskSource.GetResult(short token)
        {
            try
            {
                _core.GetResult(token);
            }
            finally
            {
                _core.Reset();
                Record = null;
                if (Interlocked.Increment(ref _pooled) <= PoolSize) Pool.Enqueue(this);
                else Interlocked.Decrement(ref _pooled);
            }
        }

        ValueTaskSourceStatus IValueTaskSource.GetStatus(short token) => _core.GetStatus(token);

        void IValueTaskSource.OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags) =>
            _core.OnCompleted(continuation, state, token, flags);
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
