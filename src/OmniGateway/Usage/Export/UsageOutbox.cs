using System.Data.Common;
using System.Text;
using Microsoft.Extensions.Options;
using OmniGateway.Usage.Storage;

namespace OmniGateway.Usage.Export;

/// <summary>
/// The durable outbox: one row per record per sink, inserted in the same transaction as the records
/// (so a record is never stored without its delivery, nor queued without being stored), deleted once
/// the sink acknowledged it. Rows are read back in insertion order, which is commit order per instance.
/// </summary>
public sealed class UsageOutbox
{
    private const string Insert = "INSERT INTO usage_outbox (sink, record_key, payload, created_at_ms) VALUES (@sink, @record_key, @payload, @created_at_ms)";

    private readonly string[] _sinks;
    private readonly UsageDatabase _database;
    private readonly SemaphoreSlim[] _signals;

    public UsageOutbox(IOptions<UsageExportOptions> options, UsageDatabase database)
    {
        _database = database;
        _sinks = options.Value.Webhooks.Select(UsageExportOptionsValidator.SinkName).ToArray();
        _signals = _sinks.Select(_ => new SemaphoreSlim(0, 1)).ToArray();
    }

    public IReadOnlyList<string> Sinks => _sinks;

    /// <summary>
    /// Inside the ledger's batch transaction, before its COMMIT (<paramref name="transaction"/> on Postgres; on SQLite the
    /// one the ledger began on the writer's connection). No sinks: nothing to do, nothing paid.
    /// </summary>
    internal async Task WriteAsync(LedgerWriter writer, DbTransaction? transaction, IReadOnlyList<UsageRecord> records, long recordedAtMs,
        CancellationToken cancellationToken)
    {
        if (_sinks.Length == 0) return;
        var payloads = new string[records.Count];
        for (var i = 0; i < records.Count; i++) payloads[i] = UsageFeedRecord.ToJson(records[i], recordedAtMs);
        var connection = writer.Connection;
        if (connection.CanCreateBatch)
        {
            // Postgres: one round trip, as the records' own inserts.
            await using var batch = connection.CreateBatch();
            batch.Transaction = transaction;
            foreach (var sink in _sinks)
            {
                for (var i = 0; i < records.Count; i++)
                {
                    var command = batch.CreateBatchCommand();
                    command.CommandText = Insert;
                    command.AddParameter("@sink", sink).AddParameter("@record_key", records[i].RecordKey)
                        .AddParameter("@payload", payloads[i]).AddParameter("@created_at_ms", recordedAtMs);
                    batch.BatchCommands.Add(command);
                }
            }
            await batch.ExecuteNonQueryAsync(cancellationToken);
            return;
        }
        // SQLite: the writer's prepared statement on SQLite's own handle, rebound per row (SqliteStatement: no provider
        // binder or UTF-8 copy per value), inside the transaction the ledger began on the same connection.
        var insert = writer.Statement(Insert);
        foreach (var sink in _sinks)
        {
            for (var i = 0; i < records.Count; i++)
            {
                insert.Text("@sink", sink);
                insert.Text("@record_key", records[i].RecordKey);
                insert.Text("@payload", payloads[i]);
                insert.Integer("@created_at_ms", recordedAtMs);
                insert.Execute();
            }
        }
    }

    /// <summary>After COMMIT: wakes every sink's delivery loop, so lag is one POST, not a poll interval.</summary>
    public void Committed()
    {
        foreach (var signal in _signals)
        {
            try { signal.Release(); } catch (SemaphoreFullException) { } // already signalled
        }
    }

    internal SemaphoreSlim Signal(int sink) => _signals[sink];

    internal UsageDatabase Database => _database;

    /// <summary>The oldest undelivered rows of one sink, in commit order.</summary>
    internal static async Task<List<OutboxRow>> ReadAsync(DbConnection connection, DbTransaction? transaction, string sink, int limit, CancellationToken cancellationToken)
    {
        await using var command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = "SELECT seq, payload, created_at_ms FROM usage_outbox WHERE sink = @sink ORDER BY seq LIMIT @limit";
        command.AddParameter("@sink", sink).AddParameter("@limit", (long)limit);
        var rows = new List<OutboxRow>(limit);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken)) rows.Add(new OutboxRow(reader.GetInt64(0), reader.GetString(1), reader.GetInt64(2)));
        return rows;
    }

    /// <summary>Acknowledged rows go; by their own ids, since a lower id of another instance may still be uncommitted.</summary>
    internal static async Task DeleteAsync(DbConnection connection, DbTransaction? transaction, string sink, List<OutboxRow> rows, CancellationToken cancellationToken)
    {
        await using var command = connection.CreateCommand();
        command.Transaction = transaction;
        var sql = new StringBuilder("DELETE FROM usage_outbox WHERE sink = @sink AND seq IN (");
        for (var i = 0; i < rows.Count; i++)
        {
            sql.Append(i == 0 ? "@s" : ", @s").Append(i);
            command.AddParameter("@s" + i, rows[i].Seq);
        }
        command.CommandText = sql.Append(')').ToString();
        command.AddParameter("@sink", sink);
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    /// <summary>Undelivered rows and the oldest one's age: the sink's backlog and lag.</summary>
    internal async Task<(long Pending, long? OldestCreatedAtMs)> BacklogAsync(string sink, CancellationToken cancellationToken)
    {
        await using var connection = await _database.OpenAsync(cancellationToken);
        await using var command = connection.CreateCommand();
        command.CommandText = "SELECT COUNT(*), MIN(created_at_ms) FROM usage_outbox WHERE sink = @sink";
        command.AddParameter("@sink", sink);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        await reader.ReadAsync(cancellationToken);
        return (reader.GetInt64(0), reader.IsDBNull(1) ? null : reader.GetInt64(1));
    }
}

internal sealed record OutboxRow(long Seq, string Payload, long CreatedAtMs);
