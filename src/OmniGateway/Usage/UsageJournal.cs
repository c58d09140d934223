using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;
using Microsoft.Extensions.Options;

namespace OmniGateway.Usage;

/// <summary>
/// Where a batch goes when the store refuses it: a local file of JSON lines, fsync'ed before the
/// ledger gives up on the batch, and replayed into the store once it takes writes again (and at
/// start-up). So a store outage withholds completions but loses no record the upstream billed. Only
/// the ledger's writer touches it (one thread); the lock guards readers of <see cref="Pending"/>.
/// </summary>
public sealed partial class UsageJournal
{
    private readonly string _path;
    private readonly ILogger<UsageJournal> _logger;
    private readonly Lock _lock = new();
    private int _pending = -1;

    public UsageJournal(IOptions<UsageOptions> options, ILogger<UsageJournal> logger)
    {
        _path = PathFor(options.Value);
        _logger = logger;
    }

    /// <summary><c>Usage:JournalPath</c>, else beside the SQLite file (one journal per store), else <c>data/usage-journal.jsonl</c>.</summary>
    public static string PathFor(UsageOptions options)
    {
        if (!string.IsNullOrWhiteSpace(options.JournalPath)) return Path.GetFullPath(options.JournalPath);
        if (options.Provider == UsageProvider.Sqlite)
        {
            var file = new Microsoft.Data.Sqlite.SqliteConnectionStringBuilder(options.ConnectionString).DataSource;
            if (file.Length > 0 && !file.StartsWith("file:", StringComparison.Ordinal) && file != ":memory:")
                return Path.Combine(Path.GetDirectoryName(Path.GetFullPath(file))!, "usage-journal.jsonl");
        }
        return Path.GetFullPath(Path.Combine("data", "usage-journal.jsonl"));
    }

    public string FilePath => _path;

    /// <summary>Records waiting for the store.</summary>
    public int Pending
    {
        get
        {
            lock (_lock)
            {
                if (_pending < 0) _pending = File.Exists(_path) ? ReadAll().Count : 0;
                return _pending;
            }
        }
    }

    /// <summary>Appends and fsyncs; returns once the records would survive a crash.</summary>
    public void Append(IReadOnlyList<UsageRecord> records)
    {
        lock (_lock)
        {
            Directory.CreateDirectory(Path.GetDirectoryName(_path)!);
            var lines = new StringBuilder();
            foreach (var record in records) lines.Append(JsonSerializer.Serialize(record, JournalJson.Default.UsageRecord)).Append('\n');
            using (var file = new FileStream(_path, FileMode.Append, FileAccess.Write, FileShare.Read, 4096, FileOptions.WriteThrough))
            {
                file.Write(Encoding.UTF8.GetBytes(lines.ToString()));
                file.Flush(flushToDisk: true);
            }
            _pending = Math.Max(_pending, 0) + records.Count;
            Log.Journaled(_logger, records.Count, _path);
        }
    }

    /// <summary>Every journaled record; a line torn by a crash mid-append is skipped (its batch was never acknowledged).</summary>
    public IReadOnlyList<UsageRecord> ReadAll()
    {
        lock (_lock)
        {
            if (!File.Exists(_path)) return [];
            var records = new List<UsageRecord>();
            foreach (var line in File.ReadLines(_path))
            {
                if (string.IsNullOrWhiteSpace(line)) continue;
                try
                {
                    if (JsonSerializer.Deserialize(line, JournalJson.Default.UsageRecord) is { } record) records.Add(record);
                }
                catch (JsonException)
                {
                    Log.TornLine(_logger, _path);
                }
            }
            return records;
        }
    }

    /// <summary>After the store took every journaled record.</summary>
    public void Clear()
    {
        lock (_lock)
        {
            if (File.Exists(_path)) File.Delete(_path);
            _pending = 0;
        }
    }

    [JsonSerializable(typeof(UsageRecord))]
    private sealed partial class JournalJson : JsonSerializerContext;

    private static partial class Log
    {
        [LoggerMessage(EventId = 7030, Level = LogLevel.Warning, Message = "{RecordCount} usage records kept in the local journal {JournalPath} until the store takes writes again")]
        public static partial void Journaled(ILogger logger, int recordCount, string journalPath);

        [LoggerMessage(EventId = 7031, Level = LogLevel.Warning, Message = "A torn line in the usage journal {JournalPath} was skipped")]
        public static partial void TornLine(ILogger logger, string journalPath);
    }
}
