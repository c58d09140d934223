using System.Xml.Linq;
using YamlDotNet.RepresentationModel;

namespace OmniGateway.Tests.Deploy;

/// <summary>Lookups across the deploy files that several tests share.</summary>
internal static class DeployManifests
{
    public const string Kubernetes = "deploy/kubernetes";

    public static void AssertConfigurationKeys(string file, IEnumerable<string> variables)
    {
        var problems = variables.Select(v => ConfigurationKeys.Problem(v)).OfType<string>().ToList();
        Assert.True(problems.Count == 0, $"{file}: {string.Join("; ", problems)}");
    }

    public static YamlNode ComposeService(string file, string name) =>
        YamlFiles.Load(file)[0].Path("services", name) ?? throw new Xunit.Sdk.XunitException($"{file} has no service {name}");

    public static IEnumerable<string> KubernetesFiles() =>
        Directory.EnumerateFiles(RepositoryFiles.PathOf(Kubernetes), "*.yaml")
            .Select(f => $"{Kubernetes}/{Path.GetFileName(f)}").Order(StringComparer.Ordinal);

    public static IEnumerable<YamlMappingNode> Deployments() =>
        KubernetesFiles().SelectMany(YamlFiles.Load).Where(d => d.Kind() == "Deployment");

    /// <summary>A container's env plus the data of the ConfigMaps it takes whole through envFrom.</summary>
    public static Dictionary<string, string> ContainerEnvironment(YamlNode container)
    {
        var configMaps = KubernetesFiles().SelectMany(YamlFiles.Load).Where(d => d.Kind() == "ConfigMap").ToDictionary(d => d.Name());
        var env = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var source in container.Get("envFrom").Items())
        {
            var name = source.Path("configMapRef", "name").Text();
            if (name is null) continue;
            Assert.True(configMaps.TryGetValue(name, out var map), $"envFrom names ConfigMap {name}, which no manifest defines");
            foreach (var (key, value) in map.Get("data").Entries()) env[key] = value.Text() ?? "";
        }
        foreach (var variable in container.Get("env").Items()) env[variable.Get("name").Text()!] = variable.Get("value").Text() ?? ""; // name is required
        return env;
    }

    /// <summary>The project and everything it references, as repository-relative paths.</summary>
    public static HashSet<string> ProjectClosure(string project)
    {
        var seen = new HashSet<string>(StringComparer.Ordinal);
        var pending = new Stack<string>([project]);
        while (pending.TryPop(out var current))
        {
            if (!seen.Add(current)) continue;
            var folder = Path.GetDirectoryName(RepositoryFiles.PathOf(current))!; // a csproj always has a folder
            foreach (var reference in XDocument.Load(RepositoryFiles.PathOf(current)).Descendants("ProjectReference"))
            {
                var full = Path.GetFullPath(Path.Combine(folder, reference.Attribute("Include")!.Value.Replace('\\', '/'))); // Include is required
                pending.Push(Path.GetRelativePath(RepositoryFiles.Root, full).Replace('\\', '/'));
            }
        }
        return seen;
    }
}
