using System.Data.Common;

namespace OmniGateway.Usage.Storage;

/// <summary>Usage records and per-period totals, written in one transaction per batch.</summary>
public sealed partial class SqlUsageStore(UsageDatabase database, TimeProvider time, Export.UsageOutbox? outbox = null) : IAsyncDisposable
{
    private const string Checkpoint = "PRAGMA wal_checkpoint(PASSIVE);";
    private const string BeginWrite = "BEGIN IMMEDIATE;";
    private const string CommitWrite = "COMMIT;";

    // One writer at a time on the one writer connection (the ledger's loop is the only caller in the gateway).
    private readonly SemaphoreSlim _writing = new(1, 1);
    private LedgerWriter? _writer;

    private const string InsertRecord = """
        INSERT INTO usage_records (request_id, tenant_id, key_id, model, voice, modalities, started_at_ms, ttfb_ms, duration_ms, outcome,
            upstream_response_id, input_tokens, cached_tokens, output_tokens, reasoning_tokens, total_tokens, usage_json, recorded_at_ms,
            upstream_attempts, reserved_tokens, usage_reported, record_key, cost_picos, currency, price_effective_ms, tags_json, reserved_cost_picos)
        VALUES (@request_id, @tenant_id, @key_id, @model, @voice, @modalities, @started_at_ms, @ttfb_ms, @duration_ms, @outcome,
            @upstream_response_id, @input_tokens, @cached_tokens, @output_tokens, @reasoning_tokens, @total_tokens, @usage_json, @recorded_at_ms,
            @upstream_attempts, @reserved_tokens, @usage_reported, @record_key, @cost_picos, @currency, @price_effective_ms, @tags_json, @reserved_cost_picos)
        """;

    // RETURNING gives the total as the database holds it, which on Postgres includes other instances' spend.
    private const string UpsertTotal = """
        INSERT INTO usage_totals (tenant_id, period, period_start_ms, requests, total_tokens, cost_nanos) VALUES (@tenant_id, @period, @start, @requests, @tokens, @cost_nanos)
        ON CONFLICT (tenant_id, period, period_start_ms)
        DO UPDATE SET requests = usage_totals.requests + excluded.requests, total_tokens = usage_totals.total_tokens + excluded.total_tokens,
            cost_nanos = usage_totals.cost_nanos + excluded.cost_nanos
        RETURNING total_tokens, cost_nanos
        """;

    public UsageDatabase Database => database;

    /// <summary>Stores every record and bumps its tenant's day and month totals, all or nothing; returns the new totals.</summary>
    public async Task<IReadOnlyList<PeriodTotal>> AppendAsync(IReadOnlyList<UsageRecord> records, CancellationToken cancellationToken)
    {
        var recordedAt = time.GetUtcNow().ToUnixTimeMilliseconds();
        // Sorted, so that two instances lock the same total rows in the same order and never deadlock.
        var deltas = new SortedDictionary<(string Tenant, BudgetPeriod Period, long Start), (long Requests, long Tokens, long CostNanos)>();
        foreach (var record in records)
        {
            foreach (var period in (ReadOnlySpan<BudgetPeriod>)[BudgetPeriod.Day, BudgetPeriod.Month])
            {
                var key = (record.TenantId, period, UsagePeriods.Start(period, record.StartedAt).ToUnixTimeMilliseconds());
                deltas.TryGetValue(key, out var delta);
                deltas[key] = (delta.Requests + 1, delta.Tokens + record.ChargedTokens, delta.CostNanos + CostBudgets.ChargedNanos(record)); // unreported usage: its reservation
            }
        }

        await _writing.WaitAsync(cancellationToken);
        try
        {
            return await AppendAsync(_writer ??= new LedgerWriter(await database.OpenWriterAsync(cancellationToken)), records, deltas, recordedAt, cancellationToken);
        }
        catch
        {
            // The connection may be broken or mid-transaction: the next batch (a retry, say) starts on a fresh one.
            await DropWriterAsync();
            throw;
        }
        finally
        {
            _writing.Release();
        }
    }

    private async Task<IReadOnlyList<PeriodTotal>> AppendAsync(LedgerWriter writer, IReadOnlyList<UsageRecord> records,
        SortedDictionary<(string Tenant, BudgetPeriod Period, long Start), (long Requests, long Tokens, long CostNanos)> deltas, long recordedAt, CancellationToken cancellationToken)
    {
        var connection = writer.Connection;
        if (!connection.CanCreateBatch) return await AppendToSqliteAsync(writer, records, deltas, recordedAt, cancellationToken);

        // Postgres: every statement of the batch in one round trip; Npgsql prepares them on the
        // connection once they recur (UsageDatabase turns on its automatic preparation).
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        var totals = new List<PeriodTotal>(deltas.Count);
        await using (var batch = connection.CreateBatch())
        {
            batch.Transaction = transaction;
            foreach (var record in records)
            {
                var command = batch.CreateBatchCommand();
                command.CommandText = InsertRecord;
                WriteRecord(new Parameters(command.Parameters, command.CreateParameter), record, recordedAt);
                batch.BatchCommands.Add(command);
            }
            await batch.ExecuteNonQueryAsync(cancellationToken);
        }

        await using (var upserts = connection.CreateBatch())
        {
            upserts.Transaction = transaction;
            foreach (var (key, delta) in deltas)
            {
                var command = upserts.CreateBatchCommand();
                command.CommandText = UpsertTotal;
                WriteTotal(new Parameters(command.Parameters, command.CreateParameter), key, delta);
                upserts.BatchCommands.Add(command);
            }
            await using var reader = await upserts.ExecuteReaderAsync(cancellationToken);
            foreach (var (key, _) in deltas)
            {
                await reader.ReadAsync(cancellationToken);
                totals.Add(new PeriodTotal(key.Tenant, key.Period, key.Start, reader.GetInt64(0)) { CostNanos = reader.GetInt64(1) });
                await reader.NextResultAsync(cancellationToken);
            }
        }
        // The feed's outbox rows in the same transaction: stored and queued for delivery, or neither.
        if (outbox is not null) await outbox.WriteAsync(writer, transaction, records, recordedAt, cancellationToken);
        try
        {
            await transaction.CommitAsync(cancellationToken);
        }
        catch (DbException exception)
        {
            // The server may have committed before the connection failed: retrying could count twice.
            throw new UsageCommitInDoubtException(exception);
        }
        outbox?.Committed();
        return totals;
    }

    /// <summary>
    /// SQLite is in-process: BEGIN, every row and COMMIT are the writer's prepared statements, rebound per record, so
    /// a commit parses nothing (a transaction of Microsoft.Data.Sqlite's parsed its BEGIN and COMMIT again each time,
    /// issue 11), and values bound on SQLite's own statement allocate nothing (<see cref="SqliteStatement"/>).
    /// BEGIN IMMEDIATE takes the write lock up front, as Microsoft.Data.Sqlite's transaction does.
    /// </summary>
    private async Task<IReadOnlyList<PeriodTotal>> AppendToSqliteAsync(LedgerWriter writer, IReadOnlyList<UsageRecord> records,
        SortedDictionary<(string Tenant, BudgetPeriod Period, long Start), (long Requests, long Tokens, long CostNanos)> deltas, long recordedAt, CancellationToken cancellationToken)
    {
        var totals = new List<PeriodTotal>(deltas.Count);
        // On any failure the caller drops the writer, which rolls back what is left open (LedgerWriter.DisposeAsync).
        writer.Statement(BeginWrite).Execute();
        var insert = writer.Statement(InsertRecord);
        foreach (var record in records)
        {
            WriteRecord(insert, record, recordedAt);
            insert.Execute();
        }
        var upsert = writer.Statement(UpsertTotal);
        foreach (var (key, delta) in deltas)
        {
            WriteTotal(upsert, key, delta);
            var (tokens, costNanos) = upsert.ExecuteReturningRow(); // RETURNING always yields the row
            totals.Add(new PeriodTotal(key.Tenant, key.Period, key.Start, tokens) { CostNanos = costNanos });
        }
        // The feed's outbox rows in the same transaction (the connection's, begun above): stored and queued, or neither.
        if (outbox is not null) await outbox.WriteAsync(writer, transaction: null, records, recordedAt, cancellationToken);
        try
        {
            writer.Statement(CommitWrite).Execute();
        }
        catch (DbException exception)
        {
            // As on Postgres: a COMMIT that reported failure is not retried (SQLite's I/O errors leave it unclear).
            throw new UsageCommitInDoubtException(exception);
        }
        outbox?.Committed();
        return totals;
    }

    /// <summary>
    /// SQLite: copies the WAL back into the database (PASSIVE), on the writer's connection between commits.
    /// With no commit appending beside it the checkpoint reaches the WAL's end, so the next commit starts the
    /// WAL over and rewrites it in place; a WAL appended to during every checkpoint never restarts and grows,
    /// and the kernel zeroes each new block of it.
    /// </summary>
    public async Task CheckpointAsync(CancellationToken cancellationToken)
    {
        if (database.Provider != UsageProvider.Sqlite) return;
        await _writing.WaitAsync(cancellationToken);
        try
        {
            _writer ??= new LedgerWriter(await database.OpenWriterAsync(cancellationToken));
            await _writer.Command(Checkpoint, null).ExecuteNonQueryAsync(cancellationToken);
        }
        catch
        {
            await DropWriterAsync();
            throw;
        }
        finally
        {
            _writing.Release();
        }
    }

    private async ValueTask DropWriterAsync()
    {
        var writer = _writer;
        _writer = null;
        if (writer is not null)
        {
            try
            {
                await writer.DisposeAsync();
            }
            catch (Exception) // closing a broken connection may throw too; it is gone either way
            {
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _writing.WaitAsync();
        try
        {
            await DropWriterAsync();
        }
        finally
        {
            _writing.Release();
        }
    }

    /// <summary>Every tenant's totals for the given day and month: what budgets start from.</summary>
    public async Task<IReadOnlyList<PeriodTotal>> ReadTotalsAsync(DateTimeOffset now, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken);
        await using var command = connection.CreateCommand();
        command.CommandText = """
            SELECT tenant_id, period, period_start_ms, total_tokens, cost_nanos FROM usage_totals
            WHERE (period = 'day' AND period_start_ms = @day) OR (period = 'month' AND period_start_ms = @month)
            """;
        command.AddParameter("@day", UsagePeriods.Start(BudgetPeriod.Day, now).ToUnixTimeMilliseconds())
            .AddParameter("@month", UsagePeriods.Start(BudgetPeriod.Month, now).ToUnixTimeMilliseconds());
        var totals = new List<PeriodTotal>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            totals.Add(new PeriodTotal(reader.GetString(0), reader.GetString(1) == "day" ? BudgetPeriod.Day : BudgetPeriod.Month,
                reader.GetInt64(2), reader.GetInt64(3)) { CostNanos = reader.GetInt64(4) });
        }
        return totals;
    }

    /// <summary>Readiness: takes the write lock and lets go, so a read-only or locked-up store shows.</summary>
    public async Task ProbeWritableAsync(CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        await using var command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = "UPDATE og_schema_migrations SET applied_at_ms = applied_at_ms WHERE version = 1;";
        await command.ExecuteNonQueryAsync(cancellationToken);
        await transaction.RollbackAsync(cancellationToken);
    }

    private static void WriteRecord<TRow>(TRow row, UsageRecord record, long recordedAt) where TRow : IRowValues
    {
        var usage = record.Usage;
        row.Text("@request_id", record.RequestId);
        row.Text("@tenant_id", record.TenantId);
        row.Text("@key_id", record.KeyId);
        row.Text("@model", record.Model);
        row.Text("@voice", record.Voice);
        row.Text("@modalities", record.Modalities);
        row.Integer("@started_at_ms", record.StartedAt.ToUnixTimeMilliseconds());
        row.Real("@ttfb_ms", record.TimeToFirstByteMs);
        row.Real("@duration_ms", record.DurationMs);
        row.Text("@outcome", UsageRecord.OutcomeName(record.Outcome));
        row.Text("@upstream_response_id", record.UpstreamResponseId);
        row.Integer("@input_tokens", usage?.InputTokens);
        row.Integer("@cached_tokens", usage?.CachedTokens);
        row.Integer("@output_tokens", usage?.OutputTokens);
        row.Integer("@reasoning_tokens", usage?.ReasoningTokens);
        row.Integer("@total_tokens", usage?.TotalTokens);
        row.Text("@usage_json", usage?.RawJson);
        row.Integer("@recorded_at_ms", recordedAt);
        row.Integer("@upstream_attempts", record.UpstreamAttempts);
        row.Integer("@reserved_tokens", record.ReservedTokens);
        row.Integer("@usage_reported", record.UsageReported ? 1L : 0L);
        row.Text("@record_key", record.RecordKey);
        row.Integer("@cost_picos", record.Cost?.Picos);
        row.Text("@currency", record.Cost?.Currency);
        row.Integer("@price_effective_ms", record.Cost?.PriceEffectiveFrom.ToUnixTimeMilliseconds());
        row.Text("@tags_json", RecordTags.ToJson(record.Tags));
        row.Integer("@reserved_cost_picos", record.ReservedCost is { } reserved ? Pricing.UsageCost.ToPicos(reserved) : null);
    }

    private static void WriteTotal<TRow>(TRow row, (string Tenant, BudgetPeriod Period, long Start) key, (long Requests, long Tokens, long CostNanos) delta)
        where TRow : IRowValues
    {
        row.Text("@tenant_id", key.Tenant);
        row.Text("@period", UsagePeriods.Name(key.Period));
        row.Integer("@start", key.Start);
        row.Integer("@requests", delta.Requests);
        row.Integer("@tokens", delta.Tokens);
        row.Integer("@cost_nanos", delta.CostNanos);
    }

    /// <summary>Postgres: the row's values as the batch command's parameters.</summary>
    private readonly struct Parameters(DbParameterCollection parameters, Func<DbParameter> create) : IRowValues
    {
        public void Text(string name, string? value) => parameters.Add(DbCommandExtensions.Bind(create(), name, value));
        public void Integer(string name, long? value) => parameters.Add(DbCommandExtensions.Bind(create(), name, value));
        public void Real(string name, double? value) => parameters.Add(DbCommandExtensions.Bind(create(), name, value));
    }
}

/// <summary>A commit whose outcome is unknown (the connection broke during COMMIT): never retried.</summary>
public sealed class UsageCommitInDoubtException(Exception inner)
    : Exception("The usage store's connection failed during COMMIT; the batch may or may not be stored.", inner);
