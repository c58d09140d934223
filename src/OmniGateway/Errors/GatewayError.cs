using System.Globalization;
using System.Text.Json;

namespace OmniGateway.Errors;

/// <summary>
/// One OpenAI-shaped error: <c>{"error":{"message","type","param","code"}}</c>. Every refusal the
/// gateway produces goes through here so the shape, the status and the <c>type</c> never drift apart.
/// </summary>
public sealed record GatewayError(int Status, string Type, string Code, string Message, string? Param = null)
{
    /// <summary>Seconds for the <c>Retry-After</c> header (429 and some 503s).</summary>
    public int? RetryAfterSeconds { get; init; }

    /// <summary>Sent with <c>Connection: close</c>: the request's body was left unread, so the connection cannot carry another.</summary>
    public bool EndsConnection { get; init; }

    public byte[] ToJsonBytes()
    {
        var buffer = new System.Buffers.ArrayBufferWriter<byte>(256);
        using (var writer = new Utf8JsonWriter(buffer, new JsonWriterOptions { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
        {
            writer.WriteStartObject();
            writer.WriteStartObject("error");
            writer.WriteString("message", Message);
            writer.WriteString("type", Type);
            if (Param is null) writer.WriteNull("param"); else writer.WriteString("param", Param);
            writer.WriteString("code", Code);
            writer.WriteEndObject();
            writer.WriteEndObject();
        }
        return buffer.WrittenSpan.ToArray();
    }

    /// <summary>Writes the error unless the response has already started (then nothing can be said).</summary>
    public async Task WriteAsync(HttpContext context)
    {
        var response = context.Response;
        if (response.HasStarted) return;
        context.RequestServices.GetService<RefusalLog>()?.Write(context, this);
        response.Clear();
        response.StatusCode = Status;
        response.ContentType = "application/json";
        if (RetryAfterSeconds is { } seconds)
            response.Headers.RetryAfter = seconds.ToString(CultureInfo.InvariantCulture);
        if (EndsConnection) response.Headers.Connection = "close";
        var body = ToJsonBytes();
        response.ContentLength = body.Length;
        await response.Body.WriteAsync(body, context.RequestAborted);
    }

    public GatewayErrorResult ToResult() => new(this);
}
