using System.Data.Common;

namespace OmniGateway.Usage.Storage;

/// <summary>
/// The ledger's one long-lived writer connection. Opening a pooled connection per group commit re-ran the
/// PRAGMAs and re-parsed every statement each time (a quarter of the gateway's CPU under load, issue 11);
/// here the connection is set up once and each statement is prepared on first use and only rebound after.
/// Used by one writer at a time (<see cref="SqlUsageStore"/> serialises it); after any failure it is
/// dropped and the next batch starts on a fresh connection.
/// </summary>
internal sealed class LedgerWriter(DbConnection connection) : IAsyncDisposable
{
    private readonly Dictionary<string, DbCommand> _commands = new(StringComparer.Ordinal);
    private readonly Dictionary<string, SqliteStatement> _statements = new(StringComparer.Ordinal);

    public DbConnection Connection => connection;

    /// <summary>The command for <paramref name="sql"/>, kept for the connection's life: its parameters stay, only their values change.</summary>
    public DbCommand Command(string sql, DbTransaction? transaction)
    {
        if (!_commands.TryGetValue(sql, out var command))
        {
            command = connection.CreateCommand();
            command.CommandText = sql;
            _commands.Add(sql, command);
        }
        command.Transaction = transaction;
        return command;
    }

    /// <summary>SQLite: the statement for <paramref name="sql"/> on the connection's own handle, kept for the connection's life.</summary>
    public SqliteStatement Statement(string sql)
    {
        if (!_statements.TryGetValue(sql, out var statement))
        {
            statement = new SqliteStatement((Microsoft.Data.Sqlite.SqliteConnection)connection, sql);
            _statements.Add(sql, statement);
        }
        return statement;
    }

    /// <summary>
    /// The writer is dropped after any failure, mid-batch or at COMMIT, so this is the one place a transaction left open
    /// ends: the pool would hand the connection on still inside it. The ledger begins its SQLite transactions with a
    /// BEGIN statement of its own, which Microsoft.Data.Sqlite does not know of and so never rolls back.
    /// </summary>
    public async ValueTask DisposeAsync()
    {
        RollBackIfOpen();
        // Statements first: SQLite closes a connection only once none is left open on it.
        foreach (var statement in _statements.Values) statement.Dispose();
        _statements.Clear();
        foreach (var command in _commands.Values) await command.DisposeAsync();
        _commands.Clear();
        await connection.DisposeAsync();
    }

    private void RollBackIfOpen()
    {
        if (connection is not Microsoft.Data.Sqlite.SqliteConnection { Handle: { } db } sqlite || SQLitePCL.raw.sqlite3_get_autocommit(db) != 0) return;
        try
        {
            Statement("ROLLBACK;").Execute();
        }
        catch (Microsoft.Data.Sqlite.SqliteException)
        {
            // Still inside it: this connection must not go back to the pool (a reader would get the failed batch's rows and
            // its write lock). Cleared, the pool closes it when it is returned, and closing rolls the transaction back.
            // Insurance only: in WAL mode no way was found to make a ROLLBACK fail (a write statement stepped and not
            // reset does not stop it), so no test reaches this.
            Microsoft.Data.Sqlite.SqliteConnection.ClearPool(sqlite);
        }
    }
}
