using System.Text;
using System.Text.Json;
using OmniGateway.Validation;

namespace OmniGateway.Tests.Validation;

public sealed class UpstreamBodyWriterTests
{
    [Fact]
    public void ABodyLargerThanItsFirstArray_GrowsAndKeepsEveryByte()
    {
        var writer = new UpstreamBodyWriter(1);
        var text = new string('a', 10_000) + "é";
        using (var json = new Utf8JsonWriter(writer))
        {
            json.WriteStartObject();
            json.WriteString("text", text);
            json.WriteNumber("n", 42);
            json.WriteEndObject();
        }

        var expected = "{\"text\":\"" + new string('a', 10_000) + "\\u00E9\",\"n\":42}"; // the writer's default encoder escapes é
        using var body = writer.Detach();
        Assert.Equal(expected, Encoding.UTF8.GetString(body.Memory.Span));
    }

    [Fact]
    public void OnlyWrittenBytesAreHandedOn()
    {
        var writer = new UpstreamBodyWriter(4096);
        writer.GetSpan(3)[..3].Fill((byte)'x');
        writer.Advance(3);
        Assert.Throws<InvalidOperationException>(() => writer.Advance(5000));
        using var body = writer.Detach();
        Assert.Equal("xxx", Encoding.UTF8.GetString(body.Memory.Span));
    }
}
