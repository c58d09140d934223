using System.Reflection;

namespace OmniGateway.IntegrationTests;

/// <summary>Another project's build output in this test build's configuration: the solution build puts it there.</summary>
public static class BuildOutput
{
    /// <param name="projectFolder">The project's folder below the repository root, e.g. <c>src/OmniGateway</c>.</param>
    public static string Dll(string projectFolder, string dllName)
    {
        var configuration = typeof(BuildOutput).Assembly.GetCustomAttribute<AssemblyConfigurationAttribute>()?.Configuration ?? "Debug";
        for (var folder = new DirectoryInfo(AppContext.BaseDirectory); folder is not null; folder = folder.Parent)
        {
            if (!File.Exists(Path.Combine(folder.FullName, "OmniGateway.sln"))) continue;
            var dll = Path.Combine(folder.FullName, projectFolder, "bin", configuration, "net10.0", dllName);
            if (File.Exists(dll)) return dll;
            throw new FileNotFoundException($"Build the solution first: {dll} is missing.");
        }
        throw new DirectoryNotFoundException("OmniGateway.sln not found above " + AppContext.BaseDirectory);
    }
}
