using System.Text.Json;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Extensions.Options;
using OmniGateway.Auth;
using OmniGateway.Catalog;
using OmniGateway.Errors;

namespace OmniGateway.Tenants;

/// <summary><c>/admin/tenants</c>: tenants and keys by API, beside the configuration-seeded ones (contract 6).</summary>
public static partial class TenantsAdminApi
{
    public static IEndpointRouteBuilder MapTenantsAdminApi(this IEndpointRouteBuilder app)
    {
        // Each handler's Results<…> type documents its outcomes, GatewayErrorResult the error shape.
        var group = app.MapGroup("/admin/tenants").RequireAuthorization(AuthExtensions.AdminPolicy).WithTags("Admin: tenants");
        group.MapGet("/", ListAsync).WithSummary("Every tenant: configuration-seeded and API-created");
        group.MapPost("/", CreateAsync).WithSummary("Create a tenant (the Gateway:Tenants shape)").Accepts<TenantDocument>("application/json");
        group.MapGet("/{id}", GetAsync).WithSummary("One tenant, with the ids of its live keys");
        group.MapPatch("/{id}", PatchAsync).WithSummary("Change a tenant's name, models, limits or disabled flag; absent fields stay")
            .Accepts<TenantDocument>("application/json");
        group.MapDelete("/{id}", DeleteAsync).WithSummary("Delete an API-created tenant and revoke its keys; its usage stays");
        group.MapPost("/{id}/keys", IssueKeyAsync).WithSummary("Issue a key; the answer is the only time it is shown");
        group.MapDelete("/{id}/keys/{keyId}", RevokeKeyAsync).WithSummary("Revoke a key; it fails from the next request on");
        return app;
    }

    private static async Task<Ok<ListDocument<TenantDocument>>> ListAsync(ITenantStore store, IOptions<GatewayOptions> options, CancellationToken cancellationToken)
    {
        var keys = (await store.ListKeysAsync(null, cancellationToken)).ToLookup(k => k.TenantId, StringComparer.Ordinal);
        var configured = options.Value.Tenants.Select(t => FromConfiguration(t, keys[t.Id])).ToList();
        var ids = configured.Select(t => t.Id).ToHashSet(StringComparer.Ordinal);
        var stored = (await store.ListAsync(cancellationToken)).Where(t => !ids.Contains(t.Id)).Select(t => FromStore(t, keys[t.Id]));
        return TypedResults.Ok(new ListDocument<TenantDocument>([.. configured, .. stored]));
    }

    private static async Task<Results<Ok<TenantDocument>, GatewayErrorResult>> GetAsync(string id, ITenantStore store, TenantDirectory directory, CancellationToken cancellationToken) =>
        await FindAsync(id, store, directory, cancellationToken) is { } tenant ? TypedResults.Ok(tenant) : NoSuchTenant(id).ToResult();

    private static async Task<Results<Created<TenantDocument>, GatewayErrorResult>> CreateAsync(HttpContext context, ITenantStore store, TenantDirectory directory, ModelCatalog catalog,
        TimeProvider time, CancellationToken cancellationToken)
    {
        if ((await ReadAsync(context, creating: true, catalog)).Refused(out var input, out var error)) return error.ToResult();
        var id = input.Id!; // parsing requires Id when creating
        if (directory.FindConfigured(id) is not null)
            return GatewayErrors.Conflict("tenant_exists", $"Tenant '{id}' already exists, in configuration (Gateway:Tenants). Choose another Id.", "Id").ToResult();

        var now = time.GetUtcNow();
        var tenant = input.ApplyTo(new StoredTenant(id, null, false, [], new TenantLimits(), now, now), now);
        if (CostBudgetProblem(tenant, catalog) is { } costProblem) return costProblem.ToResult();
        var keys = input.KeySha256.Select(hash => (KeyIds.FromHash(hash), hash)).ToList();
        var created = await store.CreateAsync(tenant, keys, cancellationToken);
        if (created == TenantCreateResult.IdRetired)
            return GatewayErrors.Conflict("tenant_id_retired",
                $"Tenant id '{id}' belonged to a deleted tenant and is retired, so that a new tenant never sees the old one's usage or budget totals. Choose another Id.", "Id").ToResult();
        if (created == TenantCreateResult.IdTaken) return GatewayErrors.Conflict("tenant_exists", $"Tenant '{id}' already exists. PATCH it, or choose another Id.", "Id").ToResult();
        if (created == TenantCreateResult.KeyTaken) return GatewayErrors.Conflict("key_exists", "One of KeySha256 is already a key of the gateway. Each key belongs to one tenant.", "KeySha256").ToResult();
        var document = FromStore(tenant, await store.ListKeysAsync(id, cancellationToken));
        return TypedResults.Created($"/admin/tenants/{Uri.EscapeDataString(id)}", document);
    }

    private static async Task<Results<Ok<TenantDocument>, GatewayErrorResult>> PatchAsync(string id, HttpContext context, ITenantStore store, TenantDirectory directory, ModelCatalog catalog,
        TimeProvider time, CancellationToken cancellationToken)
    {
        if (directory.FindConfigured(id) is not null) return InConfiguration(id, "change").ToResult();
        if ((await ReadAsync(context, creating: false, catalog)).Refused(out var input, out var error)) return error.ToResult();
        if (input.Id is { } bodyId && bodyId != id)
            return GatewayErrors.BadRequest("invalid_tenant", "A tenant's Id cannot change. Create a new tenant instead.", "Id").ToResult();

        if (await store.GetAsync(id, cancellationToken) is not { } current) return NoSuchTenant(id).ToResult();
        var updated = input.ApplyTo(current, time.GetUtcNow());
        if (CostBudgetProblem(updated, catalog) is { } costProblem) return costProblem.ToResult();
        if (!await store.UpdateAsync(updated, cancellationToken)) return NoSuchTenant(id).ToResult();
        return TypedResults.Ok(FromStore(updated, await store.ListKeysAsync(id, cancellationToken)));
    }

    private static async Task<Results<NoContent, GatewayErrorResult>> DeleteAsync(string id, ITenantStore store, TenantDirectory directory, CancellationToken cancellationToken)
    {
        if (directory.FindConfigured(id) is not null) return InConfiguration(id, "delete").ToResult();
        if (!await store.DeleteAsync(id, cancellationToken)) return NoSuchTenant(id).ToResult();
        return TypedResults.NoContent();
    }

    private static async Task<Results<Created<IssuedKeyDocument>, GatewayErrorResult>> IssueKeyAsync(string id, ITenantStore store, TenantDirectory directory, TimeProvider time,
        ILoggerFactory loggers, CancellationToken cancellationToken)
    {
        if (directory.FindConfigured(id) is null && await store.GetAsync(id, cancellationToken) is null) return NoSuchTenant(id).ToResult();
        var (key, hash, keyId) = ApiKeys.Issue();
        var issued = new StoredKey(keyId, id, time.GetUtcNow());
        // 256 random bits: a clash means a broken random source, not bad luck; refuse rather than overwrite.
        if (!await store.AddKeyAsync(issued, hash, cancellationToken)) throw new InvalidOperationException("Issued key collided with a stored one.");
        var logger = loggers.CreateLogger("OmniGateway.Tenants");
        Log.KeyIssued(logger, keyId, id);
        return TypedResults.Created($"/admin/tenants/{Uri.EscapeDataString(id)}/keys/{keyId}", new IssuedKeyDocument(keyId, id, key, issued.CreatedAt));
    }

    private static async Task<Results<NoContent, GatewayErrorResult>> RevokeKeyAsync(string id, string keyId, ITenantStore store, TenantDirectory directory,
        ILoggerFactory loggers, CancellationToken cancellationToken)
    {
        if (directory.FindConfigured(id) is { } configured && configured.KeySha256.Any(hex => KeyIds.FromHash(Convert.FromHexString(hex)) == keyId))
        {
            return GatewayErrors.Conflict("key_in_configuration",
                $"Key '{keyId}' of tenant '{id}' is set in configuration (Gateway:Tenants KeySha256). Remove it there and restart.").ToResult();
        }
        if (!await store.RevokeKeyAsync(id, keyId, cancellationToken))
            return GatewayErrors.NotFound("key_not_found", $"Tenant '{GatewayErrors.Truncate(id)}' has no live key '{GatewayErrors.Truncate(keyId)}'. GET /admin/tenants/{{id}} lists its keys.").ToResult();
        var logger = loggers.CreateLogger("OmniGateway.Tenants");
        Log.KeyRevoked(logger, keyId, id);
        return TypedResults.NoContent();
    }

    /// <summary>Cost budgets against the price table, on the tenant as it would be stored (a PATCH of AllowedModels alone can break them too).</summary>
    private static GatewayError? CostBudgetProblem(StoredTenant tenant, ModelCatalog catalog) =>
        Usage.Pricing.CostBudgetRules.Check("Limits.", tenant.Limits, tenant.AllowedModels, catalog.Models.ToDictionary(m => m.Id, m => m.Options, StringComparer.Ordinal))
            is { } problem ? GatewayErrors.BadRequest("invalid_tenant", problem.Problem, problem.Key) : null;

    private static async Task<TenantDocument?> FindAsync(string id, ITenantStore store, TenantDirectory directory, CancellationToken cancellationToken)
    {
        var keys = await store.ListKeysAsync(id, cancellationToken);
        if (directory.FindConfigured(id) is { } configured) return FromConfiguration(configured, keys);
        return await store.GetAsync(id, cancellationToken) is { } stored ? FromStore(stored, keys) : null;
    }

    private static async Task<Refusable<TenantInput>> ReadAsync(HttpContext context, bool creating, ModelCatalog catalog)
    {
        try
        {
            using var body = await JsonDocument.ParseAsync(context.Request.Body, cancellationToken: context.RequestAborted);
            return TenantInput.TryParse(body.RootElement, creating, catalog, out var input, out var error) ? input : error;
        }
        catch (JsonException)
        {
            return GatewayErrors.BadRequest("invalid_json", "The body is not valid JSON. Send a tenant object such as {\"Id\":\"web\",\"Limits\":{\"DailyTokens\":5000000}}.");
        }
    }

    private static TenantDocument FromConfiguration(TenantOptions tenant, IEnumerable<StoredKey> issued) => new(
        tenant.Id, tenant.Name, tenant.Disabled, tenant.AllowedModels, LimitsDocument.From(tenant.Limits), TenantDocument.FromConfiguration,
        [.. tenant.KeySha256.Select(hex => new KeyDocument(KeyIds.FromHash(Convert.FromHexString(hex)), TenantDocument.FromConfiguration, null)),
         .. issued.Select(k => new KeyDocument(k.KeyId, TenantDocument.FromApi, k.CreatedAt))],
        null, null) { AllowedOrigins = tenant.AllowedOrigins };

    private static TenantDocument FromStore(StoredTenant tenant, IEnumerable<StoredKey> keys) => new(
        tenant.Id, tenant.Name, tenant.Disabled, tenant.AllowedModels, LimitsDocument.From(tenant.Limits), TenantDocument.FromApi,
        [.. keys.Select(k => new KeyDocument(k.KeyId, TenantDocument.FromApi, k.CreatedAt))], tenant.CreatedAt, tenant.UpdatedAt)
        { AllowedOrigins = tenant.AllowedOrigins };

    private static GatewayError NoSuchTenant(string id) =>
        GatewayErrors.NotFound("tenant_not_found", $"No tenant '{GatewayErrors.Truncate(id)}'. GET /admin/tenants lists them.");

    private static GatewayError InConfiguration(string id, string verb) =>
        GatewayErrors.Conflict("tenant_in_configuration",
            $"Tenant '{GatewayErrors.Truncate(id)}' is defined in configuration (Gateway:Tenants); {verb} it there and restart. Keys can still be issued for it here.");

    private static partial class Log
    {
        [LoggerMessage(EventId = 3100, Level = LogLevel.Information, Message = "Issued key {KeyId} for tenant {TenantId}")]
        public static partial void KeyIssued(ILogger logger, string keyId, string tenantId);

        [LoggerMessage(EventId = 3101, Level = LogLevel.Information, Message = "Revoked key {KeyId} of tenant {TenantId}")]
        public static partial void KeyRevoked(ILogger logger, string keyId, string tenantId);
    }
}
