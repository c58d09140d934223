using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Diagnosers;
using BenchmarkDotNet.Exporters;
using BenchmarkDotNet.Running;

namespace OmniGateway.Bench.Micro;

// Namespaced rather than top-level: the gateway assembly exports a global Program, and the two would clash.
public static class Program
{
    /// <summary>Where results go unless BenchmarkDotNet's own <c>--artifacts</c> says otherwise.</summary>
    public const string ArtifactsEnvironmentVariable = "OMNIGATEWAY_MICRO_ARTIFACTS";

    public static void Main(string[] args)
    {
        // DefaultConfig's columns, loggers, analysers and validators, but only the GitHub markdown export:
        // it is the one committed, and DefaultConfig already holds it, so adding it there would export twice.
        var defaults = DefaultConfig.Instance;
        var config = ManualConfig.CreateEmpty()
            .AddColumnProvider([.. defaults.GetColumnProviders()])
            .AddLogger([.. defaults.GetLoggers()])
            .AddAnalyser([.. defaults.GetAnalysers()])
            .AddValidator([.. defaults.GetValidators()])
            .AddExporter(MarkdownExporter.GitHub)
            .AddDiagnoser(MemoryDiagnoser.Default)
            .WithArtifactsPath(ArtifactsPath());
        BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args, config);
    }

    /// <summary>
    /// bench/results/micro of the checkout, found from the working directory upwards, so results land
    /// in the committed folder whether the run starts at the repository root or in this project's folder.
    /// </summary>
    private static string ArtifactsPath()
    {
        if (Environment.GetEnvironmentVariable(ArtifactsEnvironmentVariable) is { Length: > 0 } configured) return Path.GetFullPath(configured);
        var root = BenchSamples.RepositoryRoot(Directory.GetCurrentDirectory()) ?? Directory.GetCurrentDirectory();
        return Path.Combine(root, "bench", "results", "micro");
    }
}
