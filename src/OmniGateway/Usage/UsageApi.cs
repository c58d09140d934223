using System.Globalization;
using System.Text;
using System.Text.Json.Serialization;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Net.Http.Headers;
using OmniGateway.Auth;
using OmniGateway.Catalog;
using OmniGateway.Errors;

// Every outcome of a usage query: JSON rows (grouped by a tag or not), CSV, or a refusal.
using UsageAnswer = Microsoft.AspNetCore.Http.HttpResults.Results<
    Microsoft.AspNetCore.Http.HttpResults.Ok<OmniGateway.Catalog.ListDocument<OmniGateway.Usage.UsageRowDocument>>,
    Microsoft.AspNetCore.Http.HttpResults.Ok<OmniGateway.Catalog.ListDocument<OmniGateway.Usage.TaggedUsageRowDocument>>,
    Microsoft.AspNetCore.Http.HttpResults.ContentHttpResult,
    OmniGateway.Errors.GatewayErrorResult>;

namespace OmniGateway.Usage;

/// <summary><c>GET /v1/usage</c> (the caller's own tenant) and <c>GET /admin/usage</c> (any tenant): contract 5's list, or CSV.</summary>
public static class UsageApi
{
    public static IEndpointRouteBuilder MapUsageApi(this IEndpointRouteBuilder app)
    {
        // The handlers' Results<…> name every outcome; the one Produces says the 200 comes as JSON or CSV (one entry
        // per status is kept, so both content types go in one).
        app.MapGet("/v1/usage", GetOwnUsageAsync).RequireAuthorization(AuthExtensions.TenantPolicy).WithTags("Usage")
            .WithSummary("Your tenant's usage per model and period (UTC); Accept: text/csv for CSV")
            .Produces<ListDocument<UsageRowDocument>>(StatusCodes.Status200OK, "application/json", "text/csv");
        app.MapGet("/admin/usage", GetAnyUsageAsync).RequireAuthorization(AuthExtensions.AdminPolicy).WithTags("Admin: usage")
            .WithSummary("Usage of one or every tenant per model and period (UTC); Accept: text/csv for CSV")
            .Produces<ListDocument<UsageRowDocument>>(StatusCodes.Status200OK, "application/json", "text/csv");
        return app;
    }

    private static Task<UsageAnswer> GetOwnUsageAsync(
        HttpContext context, string? from, string? to, string? granularity,
        [FromQuery(Name = "group_by")] string? groupBy, string[]? tag, IUsageQueries store, CancellationToken cancellationToken) =>
        // The tenant comes from the key, never from the query: one tenant cannot read another's usage.
        AnswerAsync(context, context.GetTenant().TenantId, null, from, to, granularity, groupBy, tag, store, cancellationToken);

    private static Task<UsageAnswer> GetAnyUsageAsync(
        HttpContext context, string? tenant, string? model, string? from, string? to, string? granularity,
        [FromQuery(Name = "group_by")] string? groupBy, string[]? tag, IUsageQueries store, CancellationToken cancellationToken) =>
        AnswerAsync(context, NullIfEmpty(tenant), NullIfEmpty(model), from, to, granularity, groupBy, tag, store, cancellationToken);

    private static async Task<UsageAnswer> AnswerAsync(
        HttpContext context, string? tenant, string? model, string? from, string? to, string? granularity,
        string? groupBy, string[]? tags, IUsageQueries store, CancellationToken cancellationToken)
    {
        if (!UsageQueryParser.TryParse(tenant, model, from, to, granularity, groupBy, tags, out var parsed, out var error)) return error.ToResult();
        // The clock from the container, as everywhere (tests move it).
        if (!UsageQueryBounds.TryBound(parsed, context.RequestServices.GetRequiredService<TimeProvider>().GetUtcNow(), out var query, out error))
            return error.ToResult();
        var rows = await store.QueryAsync(query, cancellationToken, limit: UsageQueryBounds.MaxRows + 1);
        if (rows.Count > UsageQueryBounds.MaxRows) return UsageQueryBounds.TooManyRows().ToResult();

        var byTag = query.GroupByTag is not null;
        if (WantsCsv(context.Request)) return TypedResults.Text(ToCsv(rows, byTag), "text/csv; charset=utf-8", Encoding.UTF8);
        return byTag
            ? TypedResults.Ok(new ListDocument<TaggedUsageRowDocument>(rows.Select(r => new TaggedUsageRowDocument(r, query.GroupByTag!)).ToArray()))
            : TypedResults.Ok(new ListDocument<UsageRowDocument>(rows.Select(UsageRowDocument.From).ToArray()));
    }

    private static bool WantsCsv(HttpRequest request) =>
        MediaTypeHeaderValue.TryParseList(request.Headers.Accept, out var accepted)
        && accepted.Any(a => a.MediaType.Equals("text/csv", StringComparison.OrdinalIgnoreCase) && a.Quality is not 0);

    private static string ToCsv(IReadOnlyList<UsageRow> rows, bool byTag)
    {
        var csv = new StringBuilder("tenant,model,period_start,requests,input_tokens,cached_tokens,output_tokens,reasoning_tokens,total_tokens,unreported_requests,reserved_tokens,cost,currency");
        csv.Append(byTag ? ",tag_value\r\n" : "\r\n");
        foreach (var r in rows)
        {
            csv.Append(Field(r.Tenant)).Append(',').Append(Field(r.Model)).Append(',').Append(UsageRowDocument.Instant(r.PeriodStart))
                .Append(CultureInfo.InvariantCulture, $",{r.Requests},{r.InputTokens},{r.CachedTokens},{r.OutputTokens},{r.ReasoningTokens},{r.TotalTokens},{r.UnreportedRequests},{r.ReservedTokens},")
                .Append(r.Cost?.ToString(CultureInfo.InvariantCulture)).Append(',').Append(r.Currency);
            if (byTag) csv.Append(',').Append(r.TagValue is null ? "" : Field(r.TagValue));
            csv.Append("\r\n");
        }
        return csv.ToString();
    }

    /// <summary>RFC 4180 quoting, and a leading quote mark against spreadsheet formula injection.</summary>
    private static string Field(string value)
    {
        if (value.Length > 0 && value[0] is '=' or '+' or '-' or '@') value = "'" + value;
        return value.AsSpan().IndexOfAny(",\"\r\n") >= 0 ? "\"" + value.Replace("\"", "\"\"", StringComparison.Ordinal) + "\"" : value;
    }

    private static string? NullIfEmpty(string? value) => string.IsNullOrWhiteSpace(value) ? null : value;
}

public record UsageRowDocument(
    [property: JsonPropertyName("tenant")] string Tenant,
    [property: JsonPropertyName("model")] string Model,
    [property: JsonPropertyName("period_start")] string PeriodStart,
    [property: JsonPropertyName("requests")] long Requests,
    [property: JsonPropertyName("input_tokens")] long InputTokens,
    [property: JsonPropertyName("cached_tokens")] long CachedTokens,
    [property: JsonPropertyName("output_tokens")] long OutputTokens,
    [property: JsonPropertyName("reasoning_tokens")] long ReasoningTokens,
    [property: JsonPropertyName("total_tokens")] long TotalTokens,
    [property: JsonPropertyName("unreported_requests")] long UnreportedRequests,
    [property: JsonPropertyName("reserved_tokens")] long ReservedTokens,
    [property: JsonPropertyName("cost")] decimal? Cost,
    [property: JsonPropertyName("currency")] string? Currency)
{
    public static UsageRowDocument From(UsageRow row) => new(row.Tenant, row.Model, Instant(row.PeriodStart), row.Requests, row.InputTokens,
        row.CachedTokens, row.OutputTokens, row.ReasoningTokens, row.TotalTokens, row.UnreportedRequests, row.ReservedTokens, row.Cost, row.Currency);

    public static string Instant(DateTimeOffset value) => value.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.FFFFFFF'Z'", CultureInfo.InvariantCulture);
}

/// <summary>A row of a <c>group_by=tag:&lt;key&gt;</c> answer: the usual row, plus the tag and its value (null: calls without it).</summary>
public sealed record TaggedUsageRowDocument : UsageRowDocument
{
    public TaggedUsageRowDocument(UsageRow row, string tagKey) : base(From(row)) => (TagKey, TagValue) = (tagKey, row.TagValue);

    [JsonPropertyName("tag_key")] public string TagKey { get; }

    [JsonPropertyName("tag_value")] public string? TagValue { get; }
}
