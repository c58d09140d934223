using System.Data.Common;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Options;
using Npgsql;

namespace OmniGateway.Usage.Storage;

/// <summary>
/// The one database behind the ledger, the budget totals and the API-managed tenants: SQLite (one
/// instance) or PostgreSQL (several). The SQL is shared; only DDL and connection set-up differ.
/// </summary>
public sealed partial class UsageDatabase : IAsyncDisposable
{
    private readonly DbDataSource _source;
    private readonly TimeProvider _time;

    public UsageDatabase(IOptions<UsageOptions> options, IConfiguration configuration, TimeProvider time)
    {
        _time = time;
        var usage = options.Value;
        Provider = usage.Provider;
        if (Provider == UsageProvider.Postgres)
        {
            // The validator guarantees the connection string. The ledger's statements recur thousands of times
            // a second: unless the operator chose otherwise, Npgsql prepares recurring statements per
            // connection, so the server parses and plans them once (as SQLite's writer does).
            var postgres = new NpgsqlConnectionStringBuilder(configuration.GetConnectionString("Postgres")!);
            if (postgres.MaxAutoPrepare == 0) postgres.MaxAutoPrepare = PostgresAutoPreparedStatements;
            _source = NpgsqlDataSource.Create(postgres.ConnectionString);
        }
        else
        {
            var builder = new SqliteConnectionStringBuilder(usage.ConnectionString);
            if (builder.Mode != SqliteOpenMode.Memory && !builder.DataSource.StartsWith("file:", StringComparison.Ordinal)
                && Path.GetDirectoryName(Path.GetFullPath(builder.DataSource)) is { Length: > 0 } folder)
            {
                Directory.CreateDirectory(folder);
            }
            builder.Pooling = true;
            _source = SqliteFactory.Instance.CreateDataSource(builder.ConnectionString);
        }
    }

    public UsageProvider Provider { get; }

    public async ValueTask<DbConnection> OpenAsync(CancellationToken cancellationToken)
    {
        var connection = await _source.OpenConnectionAsync(cancellationToken);
        if (Provider == UsageProvider.Sqlite)
        {
            // FULL, not NORMAL: in WAL mode NORMAL survives a killed process but not a power cut or
            // kernel panic, and "stored before relayed" must hold for both. Group commit pays one
            // fsync per batch, not per record. No auto-checkpoint: it would run inside whichever
            // COMMIT crosses the threshold and stall that batch's streams; the ledger's writer runs it between commits.
            await using var pragma = connection.CreateCommand();
            pragma.CommandText = "PRAGMA synchronous=FULL; PRAGMA busy_timeout=10000; PRAGMA wal_autocheckpoint=0;";
            await pragma.ExecuteNonQueryAsync(cancellationToken);
        }
        return connection;
    }

    /// <summary>Creates or upgrades the schema; safe when several instances start at once.</summary>
    public async Task MigrateAsync(CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken);
        if (Provider == UsageProvider.Sqlite)
        {
            // Persistent per database file: readers never block the writer, and a commit is one WAL append.
            await ExecuteAsync(connection, null, "PRAGMA journal_mode=WAL;", cancellationToken);
        }
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        if (Provider == UsageProvider.Postgres)
            await ExecuteAsync(connection, transaction, "SELECT pg_advisory_xact_lock(7364001);", cancellationToken);
        await ExecuteAsync(connection, transaction,
            "CREATE TABLE IF NOT EXISTS og_schema_migrations (version BIGINT PRIMARY KEY, applied_at_ms BIGINT NOT NULL);", cancellationToken);

        await using var read = connection.CreateCommand();
        read.Transaction = transaction;
        read.CommandText = "SELECT COALESCE(MAX(version), 0) FROM og_schema_migrations;";
        var current = Convert.ToInt64(await read.ExecuteScalarAsync(cancellationToken), System.Globalization.CultureInfo.InvariantCulture);

        foreach (var (version, ddl) in Migrations.All)
        {
            if (version <= current) continue;
            await ExecuteAsync(connection, transaction, Migrations.ForProvider(ddl, Provider), cancellationToken);
            await using var mark = connection.CreateCommand();
            mark.Transaction = transaction;
            mark.CommandText = "INSERT INTO og_schema_migrations (version, applied_at_ms) VALUES (@v, @t);";
            mark.AddParameter("@v", version).AddParameter("@t", _time.GetUtcNow().ToUnixTimeMilliseconds());
            await mark.ExecuteNonQueryAsync(cancellationToken);
        }
        await transaction.CommitAsync(cancellationToken);
    }

    /// <summary>Statements Npgsql keeps prepared per connection: the ledger's two, the budget and usage queries, the tenants'.</summary>
    private const int PostgresAutoPreparedStatements = 32;

    /// <summary>How much the SQLite database file grows by at once (SQLITE_FCNTL_CHUNK_SIZE).</summary>
    public const int SqliteGrowthChunkBytes = 8 * 1024 * 1024;

    /// <summary>The ledger writer's connection: as <see cref="OpenAsync"/>, and a SQLite file that grows in large chunks.</summary>
    public async ValueTask<DbConnection> OpenWriterAsync(CancellationToken cancellationToken)
    {
        var connection = await OpenAsync(cancellationToken);
        if (connection is SqliteConnection sqlite) SqliteFileGrowth.TrySetChunkSize(sqlite, SqliteGrowthChunkBytes);
        return connection;
    }

    private static async Task ExecuteAsync(DbConnection connection, DbTransaction? transaction, string sql, CancellationToken cancellationToken)
    {
        await using var command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = sql;
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    public ValueTask DisposeAsync() => _source.DisposeAsync();
}

internal static class DbCommandExtensions
{
    public static DbCommand AddParameter(this DbCommand command, string name, object? value)
    {
        command.Parameters.Add(Bind(command.CreateParameter(), name, value));
        return command;
    }

    public static DbBatchCommand AddParameter(this DbBatchCommand command, string name, object? value)
    {
        command.Parameters.Add(Bind(command.CreateParameter(), name, value));
        return command;
    }

    /// <summary>Null is the database's NULL; both providers refuse a parameter whose value is null.</summary>
    public static DbParameter Bind(DbParameter parameter, string name, object? value)
    {
        parameter.ParameterName = name;
        parameter.Value = value ?? DBNull.Value;
        return parameter;
    }

    public static string? GetNullableString(this DbDataReader reader, int ordinal) => reader.IsDBNull(ordinal) ? null : reader.GetString(ordinal);
}
