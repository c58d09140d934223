using System.Net;
using OmniGateway.Validation;

namespace OmniGateway.Upstream;

/// <summary>
/// A try's content for a body that is streamed (<see cref="StreamedRequestBody"/>): of unknown length (chunked on
/// HTTP/1.1), sent as it arrives and completed after the verdict. The try holds the body while it sends.
/// </summary>
internal sealed class StreamedBodyContent(StreamedRequestBody body) : HttpContent
{
    protected override Task SerializeToStreamAsync(Stream stream, TransportContext? context) =>
        SerializeToStreamAsync(stream, context, CancellationToken.None);

    protected override async Task SerializeToStreamAsync(Stream stream, TransportContext? context, CancellationToken cancellationToken)
    {
        if (!body.TryHold()) throw new ObjectDisposedException(nameof(StreamedRequestBody), "The call ended before this try sent its body.");
        try
        {
            await body.WriteToAsync(stream, cancellationToken);
        }
        finally
        {
            body.LetGo();
        }
    }

    protected override bool TryComputeLength(out long length)
    {
        length = 0;
        return false;
    }
}
