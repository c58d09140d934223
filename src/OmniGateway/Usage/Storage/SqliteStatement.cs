using System.Text;
using Microsoft.Data.Sqlite;
using SQLitePCL;

namespace OmniGateway.Usage.Storage;

/// <summary>
/// One of the ledger writer's statements, prepared once on SQLite's own handle and rebound per row.
/// Through Microsoft.Data.Sqlite each execution looked every parameter up by name (a UTF-8 copy of the
/// name), made a binder object per parameter and a UTF-8 copy of every string, plus a data reader:
/// about 3.5 KB per usage record, an eighth of what a stream allocated (issue 11, bench/: allocated per
/// stream). Here names are resolved to positions once and text is encoded into one kept buffer. It runs
/// on the writer's connection inside its transaction (BEGIN IMMEDIATE, so the write lock is held; the
/// connection's busy_timeout covers the rest), used by one writer at a time like the connection itself.
/// </summary>
internal sealed class SqliteStatement : IRowValues, IDisposable
{
    private readonly sqlite3 _db;
    private readonly sqlite3_stmt _statement;
    private readonly Dictionary<string, int> _positions = new(StringComparer.Ordinal);
    private byte[] _text = new byte[512];
    private int _bound;

    public SqliteStatement(SqliteConnection connection, string sql)
    {
        _db = connection.Handle ?? throw new InvalidOperationException("The ledger's SQLite connection is not open.");
        Check(raw.sqlite3_prepare_v2(_db, sql, out _statement));
        var count = raw.sqlite3_bind_parameter_count(_statement);
        for (var position = 1; position <= count; position++)
            _positions.Add(raw.sqlite3_bind_parameter_name(_statement, position).utf8_to_string(), position);
    }

    public void Text(string name, string? value)
    {
        if (value is null)
        {
            Null(name);
            return;
        }
        var length = Encoding.UTF8.GetMaxByteCount(value.Length);
        if (length > _text.Length) _text = new byte[Math.Max(length, _text.Length * 2)];
        var written = Encoding.UTF8.GetBytes(value, _text);
        Bound(raw.sqlite3_bind_text(_statement, Position(name), _text.AsSpan(0, written))); // SQLITE_TRANSIENT: SQLite copies it
    }

    public void Integer(string name, long? value)
    {
        if (value is { } integer) Bound(raw.sqlite3_bind_int64(_statement, Position(name), integer));
        else Null(name);
    }

    public void Real(string name, double? value)
    {
        if (value is { } real) Bound(raw.sqlite3_bind_double(_statement, Position(name), real));
        else Null(name);
    }

    private void Null(string name) => Bound(raw.sqlite3_bind_null(_statement, Position(name)));

    /// <summary>Runs the statement with the values bound since the last run; every parameter must have one.</summary>
    public void Execute()
    {
        try
        {
            Ready();
            int rc;
            while ((rc = raw.sqlite3_step(_statement)) == raw.SQLITE_ROW) { }
            if (rc != raw.SQLITE_DONE) Check(rc);
        }
        finally
        {
            Reset();
        }
    }

    /// <summary>Runs a statement that returns one row (RETURNING) and reads its first two integers.</summary>
    public (long First, long Second) ExecuteReturningRow()
    {
        try
        {
            Ready();
            var rc = raw.sqlite3_step(_statement);
            if (rc == raw.SQLITE_DONE) throw new InvalidOperationException("The statement returned no row.");
            if (rc != raw.SQLITE_ROW) Check(rc);
            var row = (raw.sqlite3_column_int64(_statement, 0), raw.sqlite3_column_int64(_statement, 1));
            while ((rc = raw.sqlite3_step(_statement)) == raw.SQLITE_ROW) { }
            if (rc != raw.SQLITE_DONE) Check(rc);
            return row;
        }
        finally
        {
            Reset();
        }
    }

    public void Dispose() => _statement.Dispose();

    private int Position(string name) =>
        _positions.TryGetValue(name, out var position) ? position : throw new InvalidOperationException($"The statement has no parameter {name}.");

    private void Bound(int rc)
    {
        Check(rc);
        _bound++;
    }

    // A parameter left out would be NULL silently (SQLite's default), which Microsoft.Data.Sqlite refused too.
    private void Ready()
    {
        if (_bound < _positions.Count) throw new InvalidOperationException($"The statement has {_positions.Count} parameters; {_bound} were bound.");
    }

    private void Reset()
    {
        _bound = 0;
        raw.sqlite3_reset(_statement);
        raw.sqlite3_clear_bindings(_statement);
    }

    private void Check(int rc)
    {
        if (rc != raw.SQLITE_OK) SqliteException.ThrowExceptionForRC(rc, _db);
    }
}

/// <summary>The values of one row, by parameter name: bound to SQLite's statement, or added as ADO.NET parameters.</summary>
internal interface IRowValues
{
    void Text(string name, string? value);
    void Integer(string name, long? value);
    void Real(string name, double? value);
}
