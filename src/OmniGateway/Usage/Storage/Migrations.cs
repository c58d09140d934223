namespace OmniGateway.Usage.Storage;

/// <summary>
/// The schema, one numbered step at a time; a step never changes once shipped. Times are UTC Unix
/// milliseconds in BIGINT columns, so bucketing by hour or day is the same integer SQL on both providers.
/// </summary>
internal static class Migrations
{
    public static readonly (long Version, string Ddl)[] All =
    [
        (1, """
            CREATE TABLE usage_records (
                id {Identity},
                request_id TEXT NOT NULL,
                tenant_id TEXT NOT NULL,
                key_id TEXT NOT NULL,
                model TEXT NOT NULL,
                voice TEXT NULL,
                modalities TEXT NOT NULL,
                started_at_ms BIGINT NOT NULL,
                ttfb_ms DOUBLE PRECISION NULL,
                duration_ms DOUBLE PRECISION NOT NULL,
                outcome TEXT NOT NULL,
                upstream_response_id TEXT NULL,
                input_tokens BIGINT NULL,
                cached_tokens BIGINT NULL,
                output_tokens BIGINT NULL,
                reasoning_tokens BIGINT NULL,
                total_tokens BIGINT NULL,
                usage_json TEXT NULL,
                recorded_at_ms BIGINT NOT NULL);
            CREATE INDEX ix_usage_records_tenant_time ON usage_records (tenant_id, started_at_ms);
            CREATE INDEX ix_usage_records_time ON usage_records (started_at_ms);
            CREATE INDEX ix_usage_records_request ON usage_records (request_id);

            CREATE TABLE usage_totals (
                tenant_id TEXT NOT NULL,
                period TEXT NOT NULL,
                period_start_ms BIGINT NOT NULL,
                requests BIGINT NOT NULL,
                total_tokens BIGINT NOT NULL,
                PRIMARY KEY (tenant_id, period, period_start_ms));

            CREATE TABLE tenants (
                id TEXT PRIMARY KEY,
                name TEXT NULL,
                disabled BIGINT NOT NULL,
                allowed_models TEXT NOT NULL,
                limits TEXT NOT NULL,
                created_at_ms BIGINT NOT NULL,
                updated_at_ms BIGINT NOT NULL);

            CREATE TABLE tenant_keys (
                key_id TEXT PRIMARY KEY,
                tenant_id TEXT NOT NULL,
                key_sha256 {Blob} NOT NULL UNIQUE,
                created_at_ms BIGINT NOT NULL,
                revoked_at_ms BIGINT NULL);
            CREATE INDEX ix_tenant_keys_tenant ON tenant_keys (tenant_id);
            """),
        // Tries per call (issue 10: retries before the first byte). Rows from before retries existed took one.
        (2, "ALTER TABLE usage_records ADD COLUMN upstream_attempts BIGINT NOT NULL DEFAULT 1;"),
        // Browser origins of an API-created tenant (issue 13); NULL in rows from before it reads as none.
        (3, "ALTER TABLE tenants ADD COLUMN allowed_origins TEXT NULL;"),
        // A deleted tenant's id is never given to a new tenant, which would read the old one's usage and budget
        // totals. Tenants deleted before this step left their revoked keys behind: their ids are retired too.
        (4, """
            CREATE TABLE retired_tenant_ids (
                id TEXT PRIMARY KEY,
                retired_at_ms BIGINT NOT NULL);
            INSERT INTO retired_tenant_ids (id, retired_at_ms)
                SELECT DISTINCT k.tenant_id, 0 FROM tenant_keys k WHERE NOT EXISTS (SELECT 1 FROM tenants t WHERE t.id = k.tenant_id);
            """),
        // What admission reserved, charged to budgets in place of usage the upstream never reported.
        (5, """
            ALTER TABLE usage_records ADD COLUMN reserved_tokens BIGINT NULL;
            ALTER TABLE usage_records ADD COLUMN usage_reported BIGINT NOT NULL DEFAULT 1;
            UPDATE usage_records SET usage_reported = 0 WHERE usage_json IS NULL;
            """),
        // Cost (exact, in 1e-12 currency units, with the price version used) and the feed's unique record key.
        (6, """
            ALTER TABLE usage_records ADD COLUMN record_key TEXT NULL;
            ALTER TABLE usage_records ADD COLUMN cost_picos BIGINT NULL;
            ALTER TABLE usage_records ADD COLUMN currency TEXT NULL;
            ALTER TABLE usage_records ADD COLUMN price_effective_ms BIGINT NULL;
            """),
        // Attribution tags: a JSON object of short strings, queried with each provider's JSON operator.
        (7, """
            ALTER TABLE usage_records ADD COLUMN tags_json TEXT NULL;
            """),
        // The usage feed's durable outbox: a row per record per sink, written in the records' transaction.
        (8, """
            CREATE TABLE usage_outbox (
                seq {Identity},
                sink TEXT NOT NULL,
                record_key TEXT NOT NULL,
                payload TEXT NOT NULL,
                created_at_ms BIGINT NOT NULL);
            CREATE INDEX ix_usage_outbox_sink_seq ON usage_outbox (sink, seq);
            """),
        // Cost budgets: the period totals count cost (1e-9 units, each charge rounded up), and a record keeps
        // what admission reserved against them, charged in place of a cost its unreported usage cannot give.
        (9, """
            ALTER TABLE usage_totals ADD COLUMN cost_nanos BIGINT NOT NULL DEFAULT 0;
            ALTER TABLE usage_records ADD COLUMN reserved_cost_picos BIGINT NULL;
            """),
        // A journal replay finds stored records by their record key, not their request id. Record keys are
        // time-ordered (UUIDv7), so each commit adds to the index's last page; request ids are random, and their
        // index took a page of its own per record: half of each commit's WAL frames (issue 11). Rows stored before
        // keys existed are found by their start time (ix_usage_records_time).
        (10, """
            CREATE INDEX ix_usage_records_record_key ON usage_records (record_key);
            DROP INDEX ix_usage_records_request;
            """),
    ];

    public static string ForProvider(string ddl, UsageProvider provider) => provider == UsageProvider.Postgres
        ? ddl.Replace("{Identity}", "BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY", StringComparison.Ordinal)
             .Replace("{Blob}", "BYTEA", StringComparison.Ordinal)
        // INTEGER PRIMARY KEY is SQLite's rowid alias; AUTOINCREMENT never reuses the id of a deleted row.
        : ddl.Replace("{Identity}", "INTEGER PRIMARY KEY AUTOINCREMENT", StringComparison.Ordinal)
             .Replace("{Blob}", "BLOB", StringComparison.Ordinal);
}
