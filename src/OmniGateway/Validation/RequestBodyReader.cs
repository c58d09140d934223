using System.Buffers;
using Microsoft.AspNetCore.Http.Features;
using OmniGateway.Errors;

namespace OmniGateway.Validation;

/// <summary>Step 3's intake: the body, capped, into one pooled buffer. Past the cap it stops reading.</summary>
public static class RequestBodyReader
{
    public readonly record struct Body(byte[] Buffer, int Length) : IDisposable
    {
        public ReadOnlyMemory<byte> Memory => Buffer.AsMemory(0, Length);
        public void Dispose() => ArrayPool<byte>.Shared.Return(Buffer);
    }

    public static async Task<(Body? Body, GatewayError? Error)> ReadAsync(HttpRequest request, long maxBytes)
    {
        if (request.ContentLength > maxBytes) return (null, TooLarge(maxBytes));
        // Kestrel's own cap (30 MB by default) would otherwise answer before ours, without our error shape.
        if (request.HttpContext.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } sizeFeature)
            sizeFeature.MaxRequestBodySize = maxBytes + 1;

        var buffer = ArrayPool<byte>.Shared.Rent((int)Math.Min(request.ContentLength ?? 16 * 1024, maxBytes) + 1);
        var length = 0;
        try
        {
            while (true)
            {
                if (length == buffer.Length)
                {
                    if (length > maxBytes) break;
                    var larger = ArrayPool<byte>.Shared.Rent((int)Math.Min((long)buffer.Length * 2, maxBytes + 1));
                    buffer.AsSpan(0, length).CopyTo(larger);
                    ArrayPool<byte>.Shared.Return(buffer);
                    buffer = larger;
                }
                var read = await request.Body.ReadAsync(buffer.AsMemory(length), request.HttpContext.RequestAborted);
                if (read == 0) break;
                length += read;
            }
        }
        catch (BadHttpRequestException exception) when (exception.StatusCode == StatusCodes.Status413PayloadTooLarge)
        {
            length = (int)Math.Min(maxBytes + 1, int.MaxValue);
        }
        catch
        {
            ArrayPool<byte>.Shared.Return(buffer);
            throw;
        }
        if (length > maxBytes)
        {
            ArrayPool<byte>.Shared.Return(buffer);
            return (null, TooLarge(maxBytes));
        }
        return (new Body(buffer, length), null);
    }

    private static GatewayError TooLarge(long maxBytes) =>
        GatewayErrors.TooLarge("request_too_large",
            $"The request body is larger than this gateway accepts ({maxBytes} bytes). Send large media by http(s) URL instead of inline base64.");
}
