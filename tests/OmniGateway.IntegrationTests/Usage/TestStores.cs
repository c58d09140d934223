using Microsoft.Extensions.Options;
using Npgsql;
using OmniGateway.Usage;
using OmniGateway.Usage.Storage;

namespace OmniGateway.IntegrationTests.Usage;

/// <summary>
/// A fresh usage store per test: a SQLite file in its own temp folder, or its own schema on the real
/// PostgreSQL server that tests/scripts/start-postgres.sh started (connection string in
/// <see cref="PostgresVariable"/>). With <see cref="RequireVariable"/>=1 the Postgres cases always run,
/// and fail when the server is missing or unreachable; without either variable they are not generated.
/// </summary>
public sealed class TestStore : IAsyncDisposable
{
    public const string PostgresVariable = "OMNIGATEWAY_TEST_POSTGRES";
    public const string RequireVariable = "OMNIGATEWAY_REQUIRE_POSTGRES";

    private readonly string? _folder;
    private readonly string? _schema;

    private TestStore(string provider, Dictionary<string, string?> settings, string? folder, string? schema)
    {
        (Provider, Settings, _folder, _schema) = (provider, settings, folder, schema);
    }

    public string Provider { get; }

    /// <summary>Configuration keys that point the gateway at this store.</summary>
    public Dictionary<string, string?> Settings { get; }

    /// <summary>The usage options a gateway on this store would read.</summary>
    public IOptions<UsageOptions> UsageOptions => Options.Create(Configuration.GetSection("Usage").Get<UsageOptions>() ?? new UsageOptions());

    private IConfiguration Configuration => new ConfigurationBuilder().AddInMemoryCollection(Settings).Build();

    /// <summary>The store's database as a gateway opens it, without a gateway; migrated unless told not to.</summary>
    public async Task<UsageDatabase> OpenDatabaseAsync(bool migrate = true)
    {
        var database = new UsageDatabase(UsageOptions, Configuration, TimeProvider.System);
        if (migrate) await database.MigrateAsync(CancellationToken.None);
        return database;
    }

    public string? SqliteFile => _folder is null ? null : Path.Combine(_folder, "data", "omnigateway.db");

    /// <summary>
    /// SQLite only: another process's view of the file, so the store breaks (every insert of a record aborts) and
    /// heals under a running gateway.
    /// </summary>
    public void RefuseWrites(bool refuse)
    {
        using var connection = new Microsoft.Data.Sqlite.SqliteConnection($"Data Source={SqliteFile};Pooling=False");
        connection.Open();
        using var command = connection.CreateCommand();
        command.CommandText = refuse
            ? "CREATE TRIGGER og_test_refuse BEFORE INSERT ON usage_records BEGIN SELECT RAISE(ABORT, 'the usage store refuses writes'); END;"
            : "DROP TRIGGER og_test_refuse;";
        command.ExecuteNonQuery();
    }

    public static TheoryData<string> Providers
    {
        get
        {
            var providers = new TheoryData<string> { "Sqlite" };
            if (Environment.GetEnvironmentVariable(PostgresVariable) is { Length: > 0 } || Environment.GetEnvironmentVariable(RequireVariable) == "1")
                providers.Add("Postgres");
            return providers;
        }
    }

    public static async Task<TestStore> CreateAsync(string provider)
    {
        if (provider == "Sqlite")
        {
            var folder = Path.Combine(Path.GetTempPath(), "og-ledger-" + Guid.NewGuid().ToString("N"));
            Directory.CreateDirectory(folder);
            // The data/ sub-folder does not exist yet: the gateway must create it.
            return new TestStore(provider, new() { ["Usage:Provider"] = "Sqlite", ["Usage:ConnectionString"] = $"Data Source={Path.Combine(folder, "data", "omnigateway.db")}" },
                folder, null);
        }

        var server = Environment.GetEnvironmentVariable(PostgresVariable);
        if (string.IsNullOrEmpty(server))
            throw new InvalidOperationException($"{RequireVariable}=1 but {PostgresVariable} is not set: start the server with tests/scripts/start-postgres.sh (test.sh does).");
        var schema = "og_test_" + Guid.NewGuid().ToString("N");
        try
        {
            await using var connection = new NpgsqlConnection(server);
            await connection.OpenAsync();
            await using var command = new NpgsqlCommand($"CREATE SCHEMA {schema}", connection);
            await command.ExecuteNonQueryAsync();
        }
        catch (Exception exception) when (exception is NpgsqlException or System.Net.Sockets.SocketException)
        {
            throw new InvalidOperationException($"The PostgreSQL server in {PostgresVariable} is unreachable: {exception.Message}", exception);
        }
        // Named after the schema, so pg_stat_activity tells this store's backends from other tests' (WaitUntilClosedAsync).
        var connectionString = new NpgsqlConnectionStringBuilder(server) { SearchPath = schema, ApplicationName = schema }.ConnectionString;
        // A journal of its own: a failed commit's records must not land in another test's store.
        var journal = Path.Combine(Path.GetTempPath(), "og-journal-" + schema + ".jsonl");
        return new TestStore(provider, new() { ["Usage:Provider"] = "Postgres", ["ConnectionStrings:Postgres"] = connectionString, ["Usage:JournalPath"] = journal },
            null, schema);
    }

    /// <summary>
    /// Postgres: returns once the server holds no connection of this store's. A gateway killed just after it
    /// sent COMMIT leaves a backend that still commits, then sees the closed socket and exits; a count taken
    /// before that misses the record. SQLite has no server: a killed process's commit is done or never was.
    /// </summary>
    public async Task WaitUntilClosedAsync(TimeSpan timeout)
    {
        if (_schema is null) return;
        await using var connection = new NpgsqlConnection(Environment.GetEnvironmentVariable(PostgresVariable)); // not named: it does not count itself
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand("SELECT count(*) FROM pg_stat_activity WHERE application_name = @schema", connection);
        command.Parameters.AddWithValue("schema", _schema);
        var deadline = DateTime.UtcNow + timeout;
        long open;
        while ((open = (long)(await command.ExecuteScalarAsync())!) > 0)
        {
            if (DateTime.UtcNow > deadline) throw new TimeoutException($"{open} connection(s) to the store still open after {timeout.TotalSeconds:0} s");
            await Task.Delay(20);
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (_folder is not null)
        {
            Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
            try { Directory.Delete(_folder, recursive: true); } catch (IOException) { }
        }
        if (_schema is not null)
        {
            NpgsqlConnection.ClearAllPools();
            await using var connection = new NpgsqlConnection(Environment.GetEnvironmentVariable(PostgresVariable));
            await connection.OpenAsync();
            await using var command = new NpgsqlCommand($"DROP SCHEMA IF EXISTS {_schema} CASCADE", connection);
            await command.ExecuteNonQueryAsync();
        }
    }
}

/// <summary><c>[Theory, EveryStore]</c>: one case per usage store the run has (<see cref="TestStore.Providers"/>).</summary>
[AttributeUsage(AttributeTargets.Method)]
public sealed class EveryStoreAttribute : Xunit.Sdk.DataAttribute
{
    public override IEnumerable<object[]> GetData(System.Reflection.MethodInfo testMethod) => TestStore.Providers;
}
