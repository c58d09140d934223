using System.Data.Common;

namespace OmniGateway.Usage.Storage;

/// <summary>Usage records and per-period totals, written in one transaction per batch.</summary>
public sealed partial class SqlUsageStore(UsageDatabase database, TimeProvider time, Export.UsageOutbox? outbox = null) : IAsyncDisposable
{
    private const string Checkpoint = "PRAGMA wal_checkpoint(PASSIVE);";

    // One writer at a time on the one writer connection (the ledger's loop is the only caller in the gateway).
    private readonly SemaphoreSlim _writing = new(1, 1);
    private LedgerWriter? _writer;

    private const string InsertRecord = """
        INSERT INTO usage_records (request_id, tenant_id, key_id, model, voice, modalities, started_at_ms, ttfb_ms, duration_ms, outcome,
            upstream_response_id, input_tokens, cached_tokens, output_tokens, reasoning_tokens, total_tokens, usage_json, recorded_at_ms,
            upstream_attempts, reserved_tokens, usage_reported, record_key, cost_picos, currency, price_effective_ms, tags_json)
        VALUES (@request_id, @tenant_id, @key_id, @model, @voice, @modalities, @started_at_ms, @ttfb_ms, @duration_ms, @outcome,
            @upstream_response_id, @input_tokens, @cached_tokens, @output_tokens, @reasoning_tokens, @total_tokens, @usage_json, @recorded_at_ms,
            @upstream_attempts, @reserved_tokens, @usage_reported, @record_key, @cost_picos, @currency, @price_effective_ms, @tags_json)
        """;

    // RETURNING gives the total as the database holds it, which on Postgres includes other instances' spend.
    private const string UpsertTotal = """
        INSERT INTO usage_totals (tenant_id, period, period_start_ms, requests, total_tokens) VALUES (@tenant_id, @period, @start, @requests, @tokens)
        ON CONFLICT (tenant_id, period, period_start_ms)
        DO UPDATE SET requests = usage_totals.requests + excluded.requests, total_tokens = usage_totals.total_tokens + excluded.total_tokens
        RETURNING total_tokens
        """;

    public UsageDatabase Database => database;

    /// <summary>Stores every record and bumps its tenant's day and month totals, all or nothing; returns the new totals.</summary>
    public async Task<IReadOnlyList<PeriodTotal>> AppendAsync(IReadOnlyList<UsageRecord> records, CancellationToken cancellationToken)
    {
        var recordedAt = time.GetUtcNow().ToUnixTimeMilliseconds();
        // Sorted, so that two instances lock the same total rows in the same order and never deadlock.
        var deltas = new SortedDictionary<(string Tenant, BudgetPeriod Period, long Start), (long Requests, long Tokens)>();
        foreach (var record in records)
        {
            foreach (var period in (ReadOnlySpan<BudgetPeriod>)[BudgetPeriod.Day, BudgetPeriod.Month])
            {
                var key = (record.TenantId, period, UsagePeriods.Start(period, record.StartedAt).ToUnixTimeMilliseconds());
                deltas.TryGetValue(key, out var delta);
                deltas[key] = (delta.Requests + 1, delta.Tokens + record.ChargedTokens); // unreported usage: its reservation
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
        SortedDictionary<(string Tenant, BudgetPeriod Period, long Start), (long Requests, long Tokens)> deltas, long recordedAt, CancellationToken cancellationToken)
    {
        var connection = writer.Connection;
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        var totals = new List<PeriodTotal>(deltas.Count);
        if (connection.CanCreateBatch)
        {
            // Postgres: every statement of the batch in one round trip; Npgsql prepares them on the
            // connection once they recur (UsageDatabase turns on its automatic preparation).
            await using var batch = connection.CreateBatch();
            batch.Transaction = transaction;
            foreach (var record in records) batch.BatchCommands.Add(Prepare(batch.CreateBatchCommand(), InsertRecord, Record(record, recordedAt)));
            await batch.ExecuteNonQueryAsync(cancellationToken);

            await using var upserts = connection.CreateBatch();
            upserts.Transaction = transaction;
            foreach (var (key, delta) in deltas) upserts.BatchCommands.Add(Prepare(upserts.CreateBatchCommand(), UpsertTotal, Total(key, delta)));
            await using var reader = await upserts.ExecuteReaderAsync(cancellationToken);
            foreach (var (key, _) in deltas)
            {
                await reader.ReadAsync(cancellationToken);
                totals.Add(new PeriodTotal(key.Tenant, key.Period, key.Start, reader.GetInt64(0)));
                await reader.NextResultAsync(cancellationToken);
            }
        }
        else
        {
            // SQLite is in-process: the writer's prepared statements, rebound per record, cost microseconds.
            var insert = writer.Command(InsertRecord, transaction);
            foreach (var record in records)
            {
                Record(record, recordedAt)(insert.Parameters, insert.CreateParameter);
                await insert.ExecuteNonQueryAsync(cancellationToken);
            }
            var upsert = writer.Command(UpsertTotal, transaction);
            foreach (var (key, delta) in deltas)
            {
                Total(key, delta)(upsert.Parameters, upsert.CreateParameter);
                var total = (long)(await upsert.ExecuteScalarAsync(cancellationToken))!; // RETURNING always yields the row
                totals.Add(new PeriodTotal(key.Tenant, key.Period, key.Start, total));
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
            SELECT tenant_id, period, period_start_ms, total_tokens FROM usage_totals
            WHERE (period = 'day' AND period_start_ms = @day) OR (period = 'month' AND period_start_ms = @month)
            """;
        command.AddParameter("@day", UsagePeriods.Start(BudgetPeriod.Day, now).ToUnixTimeMilliseconds())
            .AddParameter("@month", UsagePeriods.Start(BudgetPeriod.Month, now).ToUnixTimeMilliseconds());
        var totals = new List<PeriodTotal>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            totals.Add(new PeriodTotal(reader.GetString(0), reader.GetString(1) == "day" ? BudgetPeriod.Day : BudgetPeriod.Month,
                reader.GetInt64(2), reader.GetInt64(3)));
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

    private static DbBatchCommand Prepare(DbBatchCommand command, string sql, Action<DbParameterCollection, Func<DbParameter>> bind)
    {
        command.CommandText = sql;
        bind(command.Parameters, command.CreateParameter);
        return command;
    }

    private static Action<DbParameterCollection, Func<DbParameter>> Record(UsageRecord record, long recordedAt) => (parameters, create) =>
    {
        var usage = record.Usage;
        Add(parameters, create, "@request_id", record.RequestId);
        Add(parameters, create, "@tenant_id", record.TenantId);
        Add(parameters, create, "@key_id", record.KeyId);
        Add(parameters, create, "@model", record.Model);
        Add(parameters, create, "@voice", record.Voice);
        Add(parameters, create, "@modalities", record.Modalities);
        Add(parameters, create, "@started_at_ms", record.StartedAt.ToUnixTimeMilliseconds());
        Add(parameters, create, "@ttfb_ms", record.TimeToFirstByteMs);
        Add(parameters, create, "@duration_ms", record.DurationMs);
        Add(parameters, create, "@outcome", UsageRecord.OutcomeName(record.Outcome));
        Add(parameters, create, "@upstream_response_id", record.UpstreamResponseId);
        Add(parameters, create, "@input_tokens", usage?.InputTokens);
        Add(parameters, create, "@cached_tokens", usage?.CachedTokens);
        Add(parameters, create, "@output_tokens", usage?.OutputTokens);
        Add(parameters, create, "@reasoning_tokens", usage?.ReasoningTokens);
        Add(parameters, create, "@total_tokens", usage?.TotalTokens);
        Add(parameters, create, "@usage_json", usage?.RawJson);
        Add(parameters, create, "@recorded_at_ms", recordedAt);
        Add(parameters, create, "@upstream_attempts", (long)record.UpstreamAttempts);
        Add(parameters, create, "@reserved_tokens", record.ReservedTokens);
        Add(parameters, create, "@usage_reported", record.UsageReported ? 1L : 0L);
        Add(parameters, create, "@record_key", record.RecordKey);
        Add(parameters, create, "@cost_picos", record.Cost?.Picos);
        Add(parameters, create, "@currency", record.Cost?.Currency);
        Add(parameters, create, "@price_effective_ms", record.Cost?.PriceEffectiveFrom.ToUnixTimeMilliseconds());
        Add(parameters, create, "@tags_json", RecordTags.ToJson(record.Tags));
    };

    private static Action<DbParameterCollection, Func<DbParameter>> Total((string Tenant, BudgetPeriod Period, long Start) key, (long Requests, long Tokens) delta) =>
        (parameters, create) =>
        {
            Add(parameters, create, "@tenant_id", key.Tenant);
            Add(parameters, create, "@period", UsagePeriods.Name(key.Period));
            Add(parameters, create, "@start", key.Start);
            Add(parameters, create, "@requests", delta.Requests);
            Add(parameters, create, "@tokens", delta.Tokens);
        };

    private static void Add(DbParameterCollection parameters, Func<DbParameter> create, string name, object? value)
    {
        // A kept (prepared) command keeps its parameters: rebinding sets their values.
        var index = parameters.IndexOf(name);
        if (index >= 0)
        {
            parameters[index].Value = value ?? DBNull.Value;
            return;
        }
        var parameter = create();
        parameter.ParameterName = name;
        parameter.Value = value ?? DBNull.Value;
        parameters.Add(parameter);
    }
}

/// <summary>A commit whose outcome is unknown (the connection broke during COMMIT): never retried.</summary>
public sealed class UsageCommitInDoubtException(Exception inner)
    : Exception("The usage store's connection failed during COMMIT; the batch may or may not be stored.", inner);
