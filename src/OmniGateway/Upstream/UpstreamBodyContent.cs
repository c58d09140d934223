using System.Net;
using OmniGateway.Validation;

namespace OmniGateway.Upstream;

/// <summary>
/// One try's request content: the enriched body, sent from its pooled array while the try holds it. A try
/// may still be sending when the call ends (the upstream answered before reading it all, then the connection
/// went); the hold keeps the array out of the pool until that send is over.
/// </summary>
internal sealed class UpstreamBodyContent(ReadOnlyMemory<byte> body, UpstreamBodyBuffer? buffer) : HttpContent
{
    protected override Task SerializeToStreamAsync(Stream stream, TransportContext? context) =>
        SerializeToStreamAsync(stream, context, CancellationToken.None);

    protected override Task SerializeToStreamAsync(Stream stream, TransportContext? context, CancellationToken cancellationToken)
    {
        if (buffer is null) return stream.WriteAsync(body, cancellationToken).AsTask();
        if (!buffer.TryHold()) throw new ObjectDisposedException(nameof(UpstreamBodyBuffer), "The call ended before this try sent its body.");
        ValueTask write;
        try
        {
            write = stream.WriteAsync(body, cancellationToken);
        }
        catch
        {
            buffer.LetGo();
            throw;
        }
        if (!write.IsCompleted) return LetGoAfter(write, buffer);
        buffer.LetGo();
        return write.IsCompletedSuccessfully ? Task.CompletedTask : write.AsTask();
    }

    private static async Task LetGoAfter(ValueTask write, UpstreamBodyBuffer buffer)
    {
        try
        {
            await write;
        }
        finally
        {
            buffer.LetGo();
        }
    }

    protected override bool TryComputeLength(out long length)
    {
        length = body.Length;
        return true;
    }
}
