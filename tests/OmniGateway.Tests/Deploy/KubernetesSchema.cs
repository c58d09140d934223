namespace OmniGateway.Tests.Deploy;

/// <summary>
/// The Kubernetes API schemas, through the npm package kubernetes-models (tests/kubernetes-schema, versions locked
/// in its package-lock.json). Installed on first use with <c>npm ci</c>, as test.sh does.
/// </summary>
internal static class KubernetesSchema
{
    private const string Folder = "tests/kubernetes-schema";
    private static readonly Lazy<string> Installed = new(Install);

    /// <summary>Exit code and one line per document (<c>valid …</c> or <c>INVALID …: why</c>).</summary>
    public static (int Exit, string Output) Validate(string yaml)
    {
        var folder = Installed.Value;
        var exit = Kustomize.Run("node", [Path.Combine(folder, "validate.mjs")], out var output, out var error, input: yaml, workingDirectory: folder);
        return (exit, output + error);
    }

    private static string Install()
    {
        var folder = RepositoryFiles.PathOf(Folder);
        if (Directory.Exists(Path.Combine(folder, "node_modules", "kubernetes-models"))) return folder;
        var exit = Kustomize.Run("npm", ["ci", "--no-audit", "--no-fund", "--loglevel=error"], out var output, out var error, workingDirectory: folder);
        return exit == 0 ? folder : throw new InvalidOperationException($"npm ci in {Folder} failed (node and npm are required):\n{output}{error}");
    }
}
