using System.Data.Common;
using System.Text.Json;
using OmniGateway.Usage.Storage;

namespace OmniGateway.Tenants;

/// <summary>API-managed tenants and keys, in the same database as the usage they produce (<see cref="UsageDatabase"/>: its connections and migrations).</summary>
public sealed class SqlTenantStore(UsageDatabase database, TimeProvider time) : ITenantStore
{
    private const string TenantColumns = "t.id, t.name, t.disabled, t.allowed_models, t.limits, t.created_at_ms, t.updated_at_ms, t.allowed_origins";

    public async Task<IReadOnlyList<StoredTenant>> ListAsync(CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken);
        await using var command = connection.CreateCommand();
        command.CommandText = $"SELECT {TenantColumns} FROM tenants t ORDER BY t.id";
        var tenants = new List<StoredTenant>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken)) tenants.Add(ReadTenant(reader, 0));
        return tenants;
    }

    public async Task<StoredTenant?> GetAsync(string id, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken);
        await using var command = connection.CreateCommand();
        command.CommandText = $"SELECT {TenantColumns} FROM tenants t WHERE t.id = @id";
        command.AddParameter("@id", id);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        return await reader.ReadAsync(cancellationToken) ? ReadTenant(reader, 0) : null;
    }

    public async Task<TenantCreateResult> CreateAsync(StoredTenant tenant, IReadOnlyList<(string KeyId, byte[] Sha256)> keys, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        await using var retired = connection.CreateCommand();
        retired.Transaction = transaction;
        retired.CommandText = "SELECT COUNT(*) FROM retired_tenant_ids WHERE id = @id";
        retired.AddParameter("@id", tenant.Id);
        if (Convert.ToInt64(await retired.ExecuteScalarAsync(cancellationToken), System.Globalization.CultureInfo.InvariantCulture) > 0) return TenantCreateResult.IdRetired;
        await using var insert = connection.CreateCommand();
        insert.Transaction = transaction;
        insert.CommandText = """
            INSERT INTO tenants (id, name, disabled, allowed_models, limits, created_at_ms, updated_at_ms, allowed_origins)
            VALUES (@id, @name, @disabled, @models, @limits, @created, @updated, @origins) ON CONFLICT (id) DO NOTHING
            """;
        BindTenant(insert, tenant);
        if (await insert.ExecuteNonQueryAsync(cancellationToken) != 1) return TenantCreateResult.IdTaken;
        foreach (var (keyId, hash) in keys)
        {
            if (!await InsertKeyAsync(connection, transaction, new StoredKey(keyId, tenant.Id, tenant.CreatedAt), hash, cancellationToken)) return TenantCreateResult.KeyTaken;
        }
        await transaction.CommitAsync(cancellationToken);
        return TenantCreateResult.Created;
    }

    public async Task<bool> UpdateAsync(StoredTenant tenant, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken);
        await using var command = connection.CreateCommand();
        command.CommandText = """
            UPDATE tenants SET name = @name, disabled = @disabled, allowed_models = @models, limits = @limits, updated_at_ms = @updated,
                allowed_origins = @origins
            WHERE id = @id
            """;
        BindTenant(command, tenant);
        return await command.ExecuteNonQueryAsync(cancellationToken) == 1;
    }

    public async Task<bool> DeleteAsync(string id, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        await using var revoke = connection.CreateCommand();
        revoke.Transaction = transaction;
        revoke.CommandText = "UPDATE tenant_keys SET revoked_at_ms = @now WHERE tenant_id = @id AND revoked_at_ms IS NULL";
        revoke.AddParameter("@id", id).AddParameter("@now", Now());
        await revoke.ExecuteNonQueryAsync(cancellationToken);
        await using var delete = connection.CreateCommand();
        delete.Transaction = transaction;
        delete.CommandText = "DELETE FROM tenants WHERE id = @id";
        delete.AddParameter("@id", id);
        if (await delete.ExecuteNonQueryAsync(cancellationToken) != 1) return false;
        await using var retire = connection.CreateCommand();
        retire.Transaction = transaction;
        retire.CommandText = "INSERT INTO retired_tenant_ids (id, retired_at_ms) VALUES (@id, @now) ON CONFLICT (id) DO NOTHING";
        retire.AddParameter("@id", id).AddParameter("@now", Now());
        await retire.ExecuteNonQueryAsync(cancellationToken);
        await transaction.CommitAsync(cancellationToken);
        return true;
    }

    public async Task<IReadOnlyList<StoredKey>> ListKeysAsync(string? tenantId, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken);
        await using var command = connection.CreateCommand();
        command.CommandText = "SELECT key_id, tenant_id, created_at_ms FROM tenant_keys WHERE revoked_at_ms IS NULL"
                              + (tenantId is null ? "" : " AND tenant_id = @tenant") + " ORDER BY created_at_ms, key_id";
        if (tenantId is not null) command.AddParameter("@tenant", tenantId);
        var keys = new List<StoredKey>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
            keys.Add(new StoredKey(reader.GetString(0), reader.GetString(1), DateTimeOffset.FromUnixTimeMilliseconds(reader.GetInt64(2))));
        return keys;
    }

    public async Task<bool> AddKeyAsync(StoredKey key, byte[] keySha256, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken);
        return await InsertKeyAsync(connection, null, key, keySha256, cancellationToken);
    }

    public async Task<bool> RevokeKeyAsync(string tenantId, string keyId, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken);
        await using var command = connection.CreateCommand();
        command.CommandText = "UPDATE tenant_keys SET revoked_at_ms = @now WHERE tenant_id = @tenant AND key_id = @key AND revoked_at_ms IS NULL";
        command.AddParameter("@now", Now()).AddParameter("@tenant", tenantId).AddParameter("@key", keyId);
        return await command.ExecuteNonQueryAsync(cancellationToken) == 1;
    }

    public async Task<StoredKeyMatch?> FindKeyAsync(byte[] keySha256, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken);
        await using var command = connection.CreateCommand();
        command.CommandText = $"""
            SELECT k.key_id, k.tenant_id, k.created_at_ms, k.key_sha256, {TenantColumns}
            FROM tenant_keys k LEFT JOIN tenants t ON t.id = k.tenant_id
            WHERE k.key_sha256 = @hash AND k.revoked_at_ms IS NULL
            """;
        command.AddParameter("@hash", keySha256);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        if (!await reader.ReadAsync(cancellationToken)) return null;
        var key = new StoredKey(reader.GetString(0), reader.GetString(1), DateTimeOffset.FromUnixTimeMilliseconds(reader.GetInt64(2)));
        var hash = (byte[])reader.GetValue(3);
        return new StoredKeyMatch(key, hash, reader.IsDBNull(4) ? null : ReadTenant(reader, 4));
    }

    private static async Task<bool> InsertKeyAsync(DbConnection connection, DbTransaction? transaction, StoredKey key, byte[] hash, CancellationToken cancellationToken)
    {
        await using var command = connection.CreateCommand();
        command.Transaction = transaction;
        // A key id or hash already present (a revoked key reused) is refused, never overwritten.
        command.CommandText = "INSERT INTO tenant_keys (key_id, tenant_id, key_sha256, created_at_ms) VALUES (@key, @tenant, @hash, @created) ON CONFLICT DO NOTHING";
        command.AddParameter("@key", key.KeyId).AddParameter("@tenant", key.TenantId).AddParameter("@hash", hash)
            .AddParameter("@created", key.CreatedAt.ToUnixTimeMilliseconds());
        return await command.ExecuteNonQueryAsync(cancellationToken) == 1;
    }

    private static void BindTenant(DbCommand command, StoredTenant tenant) =>
        command.AddParameter("@id", tenant.Id).AddParameter("@name", tenant.Name).AddParameter("@disabled", tenant.Disabled ? 1L : 0L)
            .AddParameter("@models", JsonSerializer.Serialize(tenant.AllowedModels, TenantJson.Default.IReadOnlyListString))
            .AddParameter("@limits", JsonSerializer.Serialize(tenant.Limits, TenantJson.Default.TenantLimits))
            .AddParameter("@created", tenant.CreatedAt.ToUnixTimeMilliseconds()).AddParameter("@updated", tenant.UpdatedAt.ToUnixTimeMilliseconds())
            .AddParameter("@origins", JsonSerializer.Serialize(tenant.AllowedOrigins, TenantJson.Default.IReadOnlyListString));

    private static StoredTenant ReadTenant(DbDataReader reader, int first) => new(
        reader.GetString(first),
        reader.GetNullableString(first + 1),
        reader.GetInt64(first + 2) != 0,
        JsonSerializer.Deserialize(reader.GetString(first + 3), TenantJson.Default.IReadOnlyListString) ?? [],
        JsonSerializer.Deserialize(reader.GetString(first + 4), TenantJson.Default.TenantLimits) ?? new TenantLimits(),
        DateTimeOffset.FromUnixTimeMilliseconds(reader.GetInt64(first + 5)),
        DateTimeOffset.FromUnixTimeMilliseconds(reader.GetInt64(first + 6)))
    {
        // NULL in rows written before migration 3 added the column.
        AllowedOrigins = reader.IsDBNull(first + 7) ? [] : JsonSerializer.Deserialize(reader.GetString(first + 7), TenantJson.Default.IReadOnlyListString) ?? [],
    };

    private long Now() => time.GetUtcNow().ToUnixTimeMilliseconds();
}

[System.Text.Json.Serialization.JsonSerializable(typeof(IReadOnlyList<string>))]
[System.Text.Json.Serialization.JsonSerializable(typeof(TenantLimits))]
internal sealed partial class TenantJson : System.Text.Json.Serialization.JsonSerializerContext;
