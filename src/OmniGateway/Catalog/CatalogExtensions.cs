using Microsoft.Extensions.Configuration.Json;
using Microsoft.Extensions.FileProviders;
using Microsoft.Extensions.Options;

namespace OmniGateway.Catalog;

public static class CatalogExtensions
{
    public const string DefaultCatalogFile = "Catalog/voices.json";

    /// <summary>
    /// Loads the shipped catalogue beneath every other configuration source, so <c>Models:…</c> keys
    /// from appsettings, environment or command line win.
    /// </summary>
    public static IHostApplicationBuilder AddModelCatalog(this IHostApplicationBuilder builder)
    {
        var source = new JsonConfigurationSource
        {
            Path = DefaultCatalogFile,
            Optional = false,
            FileProvider = new PhysicalFileProvider(AppContext.BaseDirectory),
        };
        builder.Configuration.Sources.Insert(0, source);

        builder.Services.AddOptions<ModelCatalogOptions>()
            .Bind(builder.Configuration)
            .ValidateOnStart();
        builder.Services.AddSingleton<IValidateOptions<ModelCatalogOptions>, ModelCatalogOptionsValidator>();
        builder.Services.AddSingleton<ModelCatalog>();
        return builder;
    }
}

/// <summary>Reports every broken model setting at once, each naming its configuration key.</summary>
internal sealed class ModelCatalogOptionsValidator : IValidateOptions<ModelCatalogOptions>
{
    public ValidateOptionsResult Validate(string? name, ModelCatalogOptions options)
    {
        var failures = new List<string>();
        if (options.Models.Count == 0) failures.Add("Models: no model is configured; the gateway would serve nothing.");
        foreach (var (id, model) in options.Models)
        {
            var key = $"Models:{id}";
            if (model.Voices.Any(v => string.IsNullOrWhiteSpace(v.Name)))
                failures.Add($"{key}:Voices: every voice needs a Name.");
            if (model.DefaultVoice is { } voice && !model.Voices.Any(v => string.Equals(v.Name, voice, StringComparison.OrdinalIgnoreCase)))
                failures.Add($"{key}:DefaultVoice: '{voice}' is not one of the model's voices.");
            if ((model.DefaultModalities?.Contains("audio") ?? true) && model.Voices.Count == 0)
                failures.Add($"{key}:DefaultModalities: audio output is the default but the model has no voices.");
            if (model.DefaultOutputFormat is { } format && !model.OutputAudioFormats.Contains(format))
                failures.Add($"{key}:DefaultOutputFormat: '{format}' is not in OutputAudioFormats.");
            if (model.MaxInlineBase64Bytes <= 0)
                failures.Add($"{key}:MaxInlineBase64Bytes must be positive.");
            if (model.MaxOutputTokens < 16)
                failures.Add($"{key}:MaxOutputTokens must be at least 16.");
            var estimate = model.InputEstimate;
            if (!(estimate.TextBytesPerToken >= 0.5))
                failures.Add($"{key}:InputEstimate:TextBytesPerToken must be at least 0.5.");
            if (!(estimate.AudioTokensPerKiB >= 0 && estimate.ImageTokensPerKiB >= 0 && estimate.VideoTokensPerKiB >= 0 && estimate.UrlMediaTokens >= 0))
                failures.Add($"{key}:InputEstimate: AudioTokensPerKiB, ImageTokensPerKiB, VideoTokensPerKiB and UrlMediaTokens must not be negative.");
            Usage.Pricing.PriceTable.Validate(key, model.Prices, failures);
        }
        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }
}
