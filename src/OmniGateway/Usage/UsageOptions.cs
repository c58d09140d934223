using Microsoft.Extensions.Options;

namespace OmniGateway.Usage;

public enum UsageProvider { Sqlite, Postgres }

public enum ClientAbortPolicy { Cancel, Drain }

/// <summary><c>Usage:</c> — where usage records, budget totals and API-managed tenants are stored.</summary>
public sealed class UsageOptions
{
    public UsageProvider Provider { get; set; } = UsageProvider.Sqlite;

    /// <summary>SQLite only; Postgres reads <c>ConnectionStrings:Postgres</c>.</summary>
    public string ConnectionString { get; set; } = "Data Source=data/omnigateway.db";

    /// <summary>
    /// Cancel (contract 5): a client that departs mid-generation cancels the upstream call (which saves
    /// the rest of the generation); its record says client_aborted with whatever usage was known. A
    /// client that departs once the answer's content is complete (its last output item done) is read on
    /// to the usage regardless (<see cref="DrainAfterContentTimeout"/>): it holds the whole answer.
    /// Drain: the gateway reads the upstream on, unrelayed, in every case for at most
    /// <see cref="DrainTimeout"/>, so the client_aborted record holds the usage the upstream will bill.
    /// </summary>
    public ClientAbortPolicy OnClientAbort { get; set; } = ClientAbortPolicy.Cancel;

    public TimeSpan DrainTimeout { get; set; } = TimeSpan.FromMinutes(2);

    /// <summary>How long a departed client's complete answer is read on for its terminal event (and usage).</summary>
    public TimeSpan DrainAfterContentTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>
    /// The local file (JSON lines, fsync'ed) where records wait when the store refuses a commit, until
    /// it takes them; default: beside the SQLite file, or <c>data/usage-journal.jsonl</c> with Postgres.
    /// </summary>
    public string? JournalPath { get; set; }

    /// <summary>Most records one commit takes; a bigger queue is committed in several transactions.</summary>
    public int MaxBatchSize { get; set; } = 512;

    /// <summary>How often budget totals are re-read from the store, so several instances see each other's spend.</summary>
    public TimeSpan BudgetRefreshInterval { get; set; } = TimeSpan.FromSeconds(5);
}

internal sealed class UsageOptionsValidator(IConfiguration configuration) : IValidateOptions<UsageOptions>
{
    public ValidateOptionsResult Validate(string? name, UsageOptions options)
    {
        var failures = new List<string>();
        if (!Enum.IsDefined(options.Provider))
            failures.Add("Usage:Provider must be Sqlite or Postgres.");
        if (options.Provider == UsageProvider.Sqlite && string.IsNullOrWhiteSpace(options.ConnectionString))
            failures.Add("Usage:ConnectionString must be a SQLite connection string such as 'Data Source=data/omnigateway.db'.");
        if (options.Provider == UsageProvider.Postgres && string.IsNullOrWhiteSpace(configuration.GetConnectionString("Postgres")))
            failures.Add("ConnectionStrings:Postgres is required when Usage:Provider is Postgres.");
        if (!Enum.IsDefined(options.OnClientAbort))
            failures.Add("Usage:OnClientAbort must be Cancel or Drain.");
        if (options.DrainTimeout <= TimeSpan.Zero)
            failures.Add("Usage:DrainTimeout must be a positive time span such as 00:02:00.");
        if (options.DrainAfterContentTimeout <= TimeSpan.Zero)
            failures.Add("Usage:DrainAfterContentTimeout must be a positive time span such as 00:00:10.");
        if (options.MaxBatchSize is < 1 or > 10_000)
            failures.Add("Usage:MaxBatchSize must be between 1 and 10000.");
        if (options.BudgetRefreshInterval <= TimeSpan.Zero)
            failures.Add("Usage:BudgetRefreshInterval must be a positive time span such as 00:00:05.");
        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }
}
