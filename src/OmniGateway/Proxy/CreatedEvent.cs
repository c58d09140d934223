using System.Buffers;
using System.Text.Json;

namespace OmniGateway.Proxy;

/// <summary>
/// <c>response.created</c> names the response before anything is generated: a call that ends before its
/// terminal event (the client left, the upstream broke) is still recorded with the upstream's response id.
/// </summary>
public static class CreatedEvent
{
    /// <summary><c>response.id</c>, or null when the event is malformed or has none.</summary>
    public static string? ReadResponseId(in ReadOnlySequence<byte> data)
    {
        var reader = new Utf8JsonReader(data, new JsonReaderOptions { MaxDepth = 256 });
        try
        {
            if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject) return null;
            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                var isResponse = reader.ValueTextEquals("response"u8);
                reader.Read();
                if (!isResponse || reader.TokenType != JsonTokenType.StartObject) { reader.Skip(); continue; }
                while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
                {
                    var isId = reader.ValueTextEquals("id"u8);
                    reader.Read();
                    if (isId) return reader.TokenType == JsonTokenType.String ? reader.GetString() : null;
                    reader.Skip();
                }
                return null;
            }
        }
        catch (JsonException)
        {
            // Lenient, as for terminal events: an odd created event names no response.
        }
        return null;
    }
}
