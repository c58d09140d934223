using System.Buffers.Binary;
using System.Text;

namespace OmniGateway.IntegrationTests.Observability;

/// <summary>One field of a protobuf message: its number and either a varint/fixed value or a length-delimited payload.</summary>
internal readonly record struct ProtoField(int Number, int WireType, ulong Value, ReadOnlyMemory<byte> Payload)
{
    public string Text => Encoding.UTF8.GetString(Payload.Span);
}

/// <summary>
/// Just enough of the protobuf wire format to read what an OTLP exporter sends (the generated OpenTelemetry.Proto
/// types are internal to the exporter). Field numbers from opentelemetry-proto's trace.proto, metrics.proto, common.proto.
/// </summary>
internal static class OtlpProtobuf
{
    public static IEnumerable<ProtoField> Fields(ReadOnlyMemory<byte> message)
    {
        var position = 0;
        while (position < message.Length)
        {
            var key = ReadVarint(message.Span, ref position);
            var (number, wireType) = ((int)(key >> 3), (int)(key & 7));
            switch (wireType)
            {
                case 0:
                    yield return new ProtoField(number, wireType, ReadVarint(message.Span, ref position), default);
                    break;
                case 1:
                    yield return new ProtoField(number, wireType, BinaryPrimitives.ReadUInt64LittleEndian(message.Span[position..]), default);
                    position += 8;
                    break;
                case 2:
                    var length = (int)ReadVarint(message.Span, ref position);
                    yield return new ProtoField(number, wireType, 0, message.Slice(position, length));
                    position += length;
                    break;
                case 5:
                    yield return new ProtoField(number, wireType, BinaryPrimitives.ReadUInt32LittleEndian(message.Span[position..]), default);
                    position += 4;
                    break;
                default:
                    throw new InvalidDataException($"protobuf wire type {wireType} is not used by OTLP");
            }
        }
    }

    /// <summary>ExportTraceServiceRequest → resource_spans(1) → scope_spans(2) → spans(2).</summary>
    public static IEnumerable<OtlpSpan> Spans(ReadOnlyMemory<byte> request) =>
        from resourceSpans in Children(request, 1)
        from scopeSpans in Children(resourceSpans, 2)
        from span in Children(scopeSpans, 2)
        select ReadSpan(span);

    /// <summary>ExportMetricsServiceRequest → resource_metrics(1) → scope_metrics(2) → metrics(2) → name(1).</summary>
    public static IEnumerable<string> MetricNames(ReadOnlyMemory<byte> request) =>
        from resourceMetrics in Children(request, 1)
        from scopeMetrics in Children(resourceMetrics, 2)
        from metric in Children(scopeMetrics, 2)
        from field in Fields(metric)
        where field.Number == 1
        select field.Text;

    private static OtlpSpan ReadSpan(ReadOnlyMemory<byte> span)
    {
        string traceId = "", spanId = "", parentSpanId = "", name = "";
        var kind = 0;
        var statusCode = 0;
        var attributes = new Dictionary<string, object>(StringComparer.Ordinal);
        foreach (var field in Fields(span))
        {
            switch (field.Number)
            {
                case 1: traceId = Convert.ToHexStringLower(field.Payload.Span); break;
                case 2: spanId = Convert.ToHexStringLower(field.Payload.Span); break;
                case 4: parentSpanId = Convert.ToHexStringLower(field.Payload.Span); break;
                case 5: name = field.Text; break;
                case 6: kind = (int)field.Value; break;
                case 9:
                    var (key, value) = ReadAttribute(field.Payload);
                    attributes[key] = value;
                    break;
                case 15:
                    statusCode = (int)Fields(field.Payload).Where(f => f.Number == 3).Select(f => f.Value).FirstOrDefault();
                    break;
            }
        }
        return new OtlpSpan(traceId, spanId, parentSpanId, name, (OtlpSpanKind)kind, statusCode, attributes);
    }

    /// <summary>KeyValue: key(1), AnyValue(2) with string(1) | bool(2) | int(3) | double(4).</summary>
    private static (string Key, object Value) ReadAttribute(ReadOnlyMemory<byte> keyValue)
    {
        string key = "";
        object value = "";
        foreach (var field in Fields(keyValue))
        {
            if (field.Number == 1) key = field.Text;
            if (field.Number != 2) continue;
            foreach (var any in Fields(field.Payload))
            {
                value = any.Number switch
                {
                    1 => any.Text,
                    2 => any.Value != 0,
                    3 => (long)any.Value,
                    4 => BitConverter.UInt64BitsToDouble(any.Value),
                    _ => Convert.ToHexStringLower(any.Payload.Span),
                };
            }
        }
        return (key, value);
    }

    private static IEnumerable<ReadOnlyMemory<byte>> Children(ReadOnlyMemory<byte> message, int number) =>
        Fields(message).Where(f => f.Number == number && f.WireType == 2).Select(f => f.Payload);

    private static ulong ReadVarint(ReadOnlySpan<byte> data, ref int position)
    {
        ulong result = 0;
        for (var shift = 0; ; shift += 7)
        {
            var b = data[position++];
            result |= (ulong)(b & 0x7F) << shift;
            if ((b & 0x80) == 0) return result;
        }
    }
}

internal enum OtlpSpanKind { Unspecified, Internal, Server, Client, Producer, Consumer }

internal sealed record OtlpSpan(string TraceId, string SpanId, string ParentSpanId, string Name, OtlpSpanKind Kind, int StatusCode,
    IReadOnlyDictionary<string, object> Attributes)
{
    public string? Attribute(string key) => Attributes.TryGetValue(key, out var value) ? Convert.ToString(value, System.Globalization.CultureInfo.InvariantCulture) : null;
}
