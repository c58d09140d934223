using System.Reflection;

namespace OmniGateway.Testing;

/// <summary>
/// Another project's build output in this build's configuration (the solution build puts it there). Compiled
/// into the integration tests and the bench driver alike, so "this build" is whichever of them is running.
/// </summary>
public static class BuildOutput
{
    public static string RepoRoot()
    {
        for (var folder = new DirectoryInfo(AppContext.BaseDirectory); folder is not null; folder = folder.Parent)
            if (File.Exists(Path.Combine(folder.FullName, "OmniGateway.sln"))) return folder.FullName;
        throw new DirectoryNotFoundException("OmniGateway.sln not found above " + AppContext.BaseDirectory);
    }

    /// <param name="projectFolder">The project's folder below the repository root, e.g. <c>src/OmniGateway</c>.</param>
    public static string Dll(string projectFolder, string dllName)
    {
        var configuration = typeof(BuildOutput).Assembly.GetCustomAttribute<AssemblyConfigurationAttribute>()?.Configuration ?? "Release";
        var dll = Path.Combine(RepoRoot(), projectFolder, "bin", configuration, "net10.0", dllName);
        if (File.Exists(dll)) return dll;
        throw new FileNotFoundException($"Build the solution first (dotnet build -c {configuration}): {dll} is missing.");
    }
}
