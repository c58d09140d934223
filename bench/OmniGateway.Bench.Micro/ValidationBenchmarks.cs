using BenchmarkDotNet.Attributes;
using OmniGateway.Errors;
using OmniGateway.Validation;

namespace OmniGateway.Bench.Micro;

/// <summary>
/// Step 3 on three body sizes. The 9 MB case is the target (≤ 15 ms): the validator may look at
/// every byte once (UTF-8 check, parse, base64 check, the one write of the upstream body) and no more.
/// </summary>
[MemoryDiagnoser]
public class ValidationBenchmarks
{
    private RequestValidator _validator = null!; // set in GlobalSetup, before any benchmark runs
    private byte[] _smallText = [];
    private byte[] _typicalAudio = [];
    private byte[] _largeAudio = [];

    [GlobalSetup]
    public void Setup()
    {
        _validator = new RequestValidator(BenchSamples.LoadCatalog());
        _smallText = BenchSamples.Upstream(Path.Combine("requests", "text-only.json"));
        _typicalAudio = BenchSamples.AudioRequest(BenchSamples.TypicalAudioBase64Bytes);
        _largeAudio = BenchSamples.AudioRequest(BenchSamples.LargeAudioBase64Bytes);
        // A refusal is cheaper than an acceptance: measuring one by mistake would flatter the numbers.
        foreach (var (name, body) in new[] { ("small text", _smallText), ("typical audio", _typicalAudio), ("9 MB audio", _largeAudio) })
        {
            if (_validator.Validate(body, BenchSamples.AnyModelTenant).Refused(out _, out var error))
                throw new InvalidOperationException($"The {name} body is refused ({error.Code}): {error.Message}");
        }
    }

    [Benchmark]
    public Refusable<ValidatedRequest> SmallTextRequest() => _validator.Validate(_smallText, BenchSamples.AnyModelTenant);

    [Benchmark]
    public Refusable<ValidatedRequest> TypicalInlineAudio100KB() => _validator.Validate(_typicalAudio, BenchSamples.AnyModelTenant);

    [Benchmark]
    public Refusable<ValidatedRequest> LargeInlineAudio9MB() => _validator.Validate(_largeAudio, BenchSamples.AnyModelTenant);
}
