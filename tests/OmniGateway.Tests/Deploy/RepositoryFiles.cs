namespace OmniGateway.Tests.Deploy;

/// <summary>The checked-out repository, found from the test binaries rather than the working directory,
/// which differs between `dotnet test`, IDEs and CI.</summary>
internal static class RepositoryFiles
{
    private static readonly Lazy<string> RootPath = new(FindRoot);

    public static string Root => RootPath.Value;

    public static string PathOf(string relative) => Path.Combine(Root, relative.Replace('/', Path.DirectorySeparatorChar));

    public static bool Exists(string relative) => File.Exists(PathOf(relative)) || Directory.Exists(PathOf(relative));

    public static string Read(string relative) => File.ReadAllText(PathOf(relative));

    private static string FindRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "OmniGateway.sln"))) return dir.FullName;
        }
        throw new InvalidOperationException($"No OmniGateway.sln above {AppContext.BaseDirectory}: run the tests from a checkout.");
    }
}
