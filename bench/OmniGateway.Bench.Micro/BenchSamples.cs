using System.Buffers;
using System.Text;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Options;
using OmniGateway.Catalog;
using OmniGateway.Tenants;

namespace OmniGateway.Bench.Micro;

/// <summary>Inputs shared by the benchmarks and their smoke tests: recorded samples and generated bodies and streams.</summary>
public static class BenchSamples
{
    public const string Model = "qwen3.5-omni-plus-all";

    /// <summary>Events in <c>text-audio.sse</c>: 30 named events and the closing <c>[DONE]</c>. Checked when loaded.</summary>
    public const int TextAudioEvents = 31;

    /// <summary>Enough deltas that a read boundary cuts many of them, as a long answer's do.</summary>
    public const int DeltaEvents = 2048;

    /// <summary>Under the shipped 10 485 760-byte base64 cap, close enough to it to be the worst accepted case.</summary>
    public const int LargeAudioBase64Bytes = 9 * 1024 * 1024;

    /// <summary>About three seconds of 16 kHz mono 16-bit speech: a typical spoken question.</summary>
    public const int TypicalAudioBase64Bytes = 100 * 1024;

    public static TenantContext AnyModelTenant { get; } = new("bench-tenant", "bench-key", [], new TenantLimits());

    /// <summary>The shipped catalogue (Catalog/voices.json), bound the way the tests bind it.</summary>
    public static ModelCatalog LoadCatalog()
    {
        var configuration = new ConfigurationBuilder()
            .AddJsonFile(Locate(CatalogExtensions.DefaultCatalogFile, Path.Combine("src", "OmniGateway", CatalogExtensions.DefaultCatalogFile)), optional: false)
            .Build();
        var options = new ModelCatalogOptions();
        configuration.Bind(options);
        return new ModelCatalog(Options.Create(options));
    }

    public static byte[] Upstream(string name) =>
        File.ReadAllBytes(Locate(Path.Combine("fixtures", "upstream", name), Path.Combine("tests", "fixtures", "upstream", name)));

    public static byte[] TextAudioStream()
    {
        var stream = Upstream("text-audio.sse");
        var events = SseEvents(stream).Count;
        if (events != TextAudioEvents)
            throw new InvalidOperationException($"text-audio.sse holds {events} events, not {TextAudioEvents}; update {nameof(TextAudioEvents)}.");
        return stream;
    }

    /// <summary>
    /// <paramref name="count"/> ordinary <c>response.output_text.delta</c> events, cycled from the
    /// recorded sample so their sizes and multi-byte text are real; no terminal event.
    /// </summary>
    public static byte[] DeltaStream(int count = DeltaEvents)
    {
        var sample = Upstream("text-audio.sse");
        var deltas = SseEvents(sample).Where(e => sample.AsSpan(e.Start, e.Length).StartsWith("event: response.output_text.delta"u8)).ToList();
        if (deltas.Count == 0) throw new InvalidOperationException("text-audio.sse holds no output_text.delta event.");
        var output = new ArrayBufferWriter<byte>();
        for (var i = 0; i < count; i++)
        {
            var (start, length) = deltas[i % deltas.Count];
            output.Write(sample.AsSpan(start, length));
        }
        return output.WrittenSpan.ToArray();
    }

    /// <summary>A one-user-message request: a text question plus inline base64 WAV of about <paramref name="base64Bytes"/> bytes.</summary>
    public static byte[] AudioRequest(int base64Bytes, int seed = 1)
    {
        var wav = new byte[base64Bytes / 4 * 3];
        new Random(seed).NextBytes(wav);
        WriteWavHeader(wav);
        // Spliced as text: base64 needs no JSON escaping, and Utf8JsonWriter's default encoder would escape '+' as \u002B, which no client sends.
        var json = "{\"model\":\"" + Model + "\",\"input\":[{\"role\":\"user\",\"content\":["
            + "{\"type\":\"input_text\",\"text\":\"What is said in this recording?\"},"
            + "{\"type\":\"input_audio\",\"input_audio\":{\"data\":\"" + Convert.ToBase64String(wav) + "\",\"format\":\"wav\"}}]}],"
            + "\"stream\":true,\"modalities\":[\"text\",\"audio\"],\"audio\":{\"voice\":\"Tina\",\"format\":\"wav\"}}";
        return Encoding.UTF8.GetBytes(json);
    }

    /// <summary>Event boundaries of a complete stream with LF line ends, written plainly (not with the code under test).</summary>
    public static List<(int Start, int Length)> SseEvents(byte[] stream)
    {
        var events = new List<(int, int)>();
        var start = 0;
        while (true)
        {
            var end = stream.AsSpan(start).IndexOf("\n\n"u8);
            if (end < 0) return events;
            events.Add((start, end + 2));
            start += end + 2;
        }
    }

    /// <summary>The checkout's root: the nearest directory upwards holding OmniGateway.sln.</summary>
    public static string? RepositoryRoot(string from)
    {
        for (var directory = new DirectoryInfo(from); directory is not null; directory = directory.Parent)
        {
            if (File.Exists(Path.Combine(directory.FullName, "OmniGateway.sln"))) return directory.FullName;
        }
        return null;
    }

    /// <summary>Next to the assembly when the build copied it there; else in the checkout, as BenchmarkDotNet's generated project may not copy it.</summary>
    private static string Locate(string besideAssembly, string inRepository)
    {
        var beside = Path.Combine(AppContext.BaseDirectory, besideAssembly);
        if (File.Exists(beside)) return beside;
        if (RepositoryRoot(AppContext.BaseDirectory) is { } root && File.Exists(Path.Combine(root, inRepository))) return Path.Combine(root, inRepository);
        throw new FileNotFoundException($"Neither {beside} nor {inRepository} in the checkout exists.");
    }

    /// <summary>A canonical 44-byte RIFF/WAVE header (16 kHz, mono, 16-bit) over the rest of <paramref name="wav"/>.</summary>
    private static void WriteWavHeader(Span<byte> wav)
    {
        const int sampleRate = 16_000, channels = 1, bitsPerSample = 16;
        "RIFF"u8.CopyTo(wav);
        BitConverter.TryWriteBytes(wav[4..], wav.Length - 8);
        "WAVEfmt "u8.CopyTo(wav[8..]);
        BitConverter.TryWriteBytes(wav[16..], 16);
        BitConverter.TryWriteBytes(wav[20..], (short)1); // PCM
        BitConverter.TryWriteBytes(wav[22..], (short)channels);
        BitConverter.TryWriteBytes(wav[24..], sampleRate);
        BitConverter.TryWriteBytes(wav[28..], sampleRate * channels * bitsPerSample / 8);
        BitConverter.TryWriteBytes(wav[32..], (short)(channels * bitsPerSample / 8));
        BitConverter.TryWriteBytes(wav[34..], (short)bitsPerSample);
        "data"u8.CopyTo(wav[36..]);
        BitConverter.TryWriteBytes(wav[40..], wav.Length - 44);
    }
}
