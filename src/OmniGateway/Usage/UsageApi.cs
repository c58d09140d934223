using System.Globalization;
using System.Text;
using System.Text.Json.Serialization;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Net.Http.Headers;
using OmniGateway.Auth;
using OmniGateway.Catalog;
using OmniGateway.Errors;
using OmniGateway.Usage.Storage;

namespace OmniGateway.Usage;

/// <summary><c>GET /v1/usage</c> (the caller's own tenant) and <c>GET /admin/usage</c> (any tenant): contract 5's list, or CSV.</summary>
public static class UsageApi
{
    public static IEndpointRouteBuilder MapUsageApi(this IEndpointRouteBuilder app)
    {
        app.MapGet("/v1/usage", GetOwnUsageAsync).RequireAuthorization(AuthExtensions.TenantPolicy).WithTags("Usage")
            .WithSummary("Your tenant's usage per model and period (UTC); Accept: text/csv for CSV")
            .Produces<ListDocument<UsageRowDocument>>().Produces(StatusCodes.Status200OK, contentType: "text/csv")
            .Produces<ErrorDocument>(StatusCodes.Status400BadRequest).Produces<ErrorDocument>(StatusCodes.Status401Unauthorized);
        app.MapGet("/admin/usage", GetAnyUsageAsync).RequireAuthorization(AuthExtensions.AdminPolicy).WithTags("Admin: usage")
            .WithSummary("Usage of one or every tenant per model and period (UTC); Accept: text/csv for CSV")
            .Produces<ListDocument<UsageRowDocument>>().Produces(StatusCodes.Status200OK, contentType: "text/csv")
            .Produces<ErrorDocument>(StatusCodes.Status400BadRequest).Produces<ErrorDocument>(StatusCodes.Status401Unauthorized)
            .Produces<ErrorDocument>(StatusCodes.Status403Forbidden);
        return app;
    }

    private static Task<IResult> GetOwnUsageAsync(HttpContext context, string? from, string? to, string? granularity,
        [FromQuery(Name = "group_by")] string? groupBy, string[]? tag, SqlUsageStore store, CancellationToken cancellationToken) =>
        // The tenant comes from the key, never from the query: one tenant cannot read another's usage.
        AnswerAsync(context, context.GetTenant().TenantId, null, from, to, granularity, groupBy, tag, store, cancellationToken);

    private static Task<IResult> GetAnyUsageAsync(HttpContext context, string? tenant, string? model, string? from, string? to, string? granularity,
        [FromQuery(Name = "group_by")] string? groupBy, string[]? tag, SqlUsageStore store, CancellationToken cancellationToken) =>
        AnswerAsync(context, NullIfEmpty(tenant), NullIfEmpty(model), from, to, granularity, groupBy, tag, store, cancellationToken);

    private static async Task<IResult> AnswerAsync(HttpContext context, string? tenant, string? model, string? from, string? to, string? granularity,
        string? groupBy, string[]? tags, SqlUsageStore store, CancellationToken cancellationToken)
    {
        var (query, error) = UsageQueryParser.Parse(tenant, model, from, to, granularity, groupBy, tags);
        if (error is not null) return error.ToResult();
        // The clock from the container, as everywhere (tests move it); Parse set one of query/error.
        (query, error) = UsageQueryBounds.WithDefaultPeriod(query!, context.RequestServices.GetRequiredService<TimeProvider>().GetUtcNow());
        if (error is not null) return error.ToResult();
        var rows = await store.QueryAsync(query!, cancellationToken, limit: UsageQueryBounds.MaxRows + 1);
        if (rows.Count > UsageQueryBounds.MaxRows) return UsageQueryBounds.TooManyRows().ToResult();

        var byTag = query!.GroupByTag is not null;
        if (WantsCsv(context.Request)) return TypedResults.Text(ToCsv(rows, byTag), "text/csv; charset=utf-8", Encoding.UTF8);
        return byTag
            ? TypedResults.Ok(new ListDocument<TaggedUsageRowDocument>(rows.Select(r => TaggedUsageRowDocument.From(r, query.GroupByTag!)).ToArray()))
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

public sealed record UsageRowDocument(
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
public sealed record TaggedUsageRowDocument(
    [property: JsonPropertyName("tenant")] string Tenant,
    [property: JsonPropertyName("model")] string Model,
    [property: JsonPropertyName("period_start")] string PeriodStart,
    [property: JsonPropertyName("tag_key")] string TagKey,
    [property: JsonPropertyName("tag_value")] string? TagValue,
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
    public static TaggedUsageRowDocument From(UsageRow row, string tagKey) => new(row.Tenant, row.Model, UsageRowDocument.Instant(row.PeriodStart),
        tagKey, row.TagValue, row.Requests, row.InputTokens, row.CachedTokens, row.OutputTokens, row.ReasoningTokens, row.TotalTokens,
        row.UnreportedRequests, row.ReservedTokens, row.Cost, row.Currency);
}
