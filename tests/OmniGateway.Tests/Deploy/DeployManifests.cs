using System.Xml.Linq;
using YamlDotNet.RepresentationModel;

namespace OmniGateway.Tests.Deploy;

/// <summary>Lookups across the deploy files that several tests share.</summary>
internal static class DeployManifests
{
    public const string Kubernetes = "deploy/kubernetes";
    public const string SingleNode = "single-node";
    public const string Cluster = "cluster";
    public static readonly string[] Overlays = [SingleNode, Cluster];

    private static readonly Dictionary<string, Lazy<string>> Renderings =
        Overlays.ToDictionary(o => o, o => new Lazy<string>(() => Kustomize.Render($"{Kubernetes}/overlays/{o}")));

    public static void AssertConfigurationKeys(string file, IEnumerable<string> variables)
    {
        var problems = variables.Select(v => ConfigurationKeys.Problem(v)).OfType<string>().ToList();
        Assert.True(problems.Count == 0, $"{file}: {string.Join("; ", problems)}");
    }

    public static YamlNode ComposeService(string file, string name) =>
        YamlFiles.Load(file)[0].Path("services", name) ?? throw new Xunit.Sdk.XunitException($"{file} has no service {name}");

    /// <summary>Every YAML file below deploy/kubernetes: base, overlays, patches and examples.</summary>
    public static IEnumerable<string> KubernetesFiles() =>
        Directory.EnumerateFiles(RepositoryFiles.PathOf(Kubernetes), "*.yaml", SearchOption.AllDirectories)
            .Select(f => Path.GetRelativePath(RepositoryFiles.Root, f).Replace('\\', '/')).Order(StringComparer.Ordinal);

    /// <summary>What <c>kubectl apply -k</c> would send for an overlay, as YAML text.</summary>
    public static string RenderedYaml(string overlay) => Renderings[overlay].Value;

    /// <summary>An overlay's objects (parsed anew on each call, so a test may not change another's).</summary>
    public static IReadOnlyList<YamlMappingNode> Rendered(string overlay) => Kustomize.Parse(RenderedYaml(overlay));

    public static YamlMappingNode Deployment(string overlay) => Assert.Single(Rendered(overlay), d => d.Kind() == "Deployment");

    public static YamlNode GatewayContainer(string overlay) =>
        Assert.Single(Deployment(overlay).Path("spec", "template", "spec", "containers").Items(), c => c.Get("name").Text() == "gateway");

    /// <summary>A container's env plus the data of the ConfigMaps it takes whole through envFrom; a value from a
    /// secretKeyRef reads as <c>secret:name/key</c>.</summary>
    public static Dictionary<string, string> ContainerEnvironment(YamlNode container, IEnumerable<YamlMappingNode> documents)
    {
        var configMaps = documents.Where(d => d.Kind() == "ConfigMap").ToDictionary(d => d.Name());
        var env = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var source in container.Get("envFrom").Items())
        {
            var name = source.Path("configMapRef", "name").Text();
            if (name is null) continue;
            Assert.True(configMaps.TryGetValue(name, out var map), $"envFrom names ConfigMap {name}, which no manifest defines");
            foreach (var (key, value) in map.Get("data").Entries()) env[key] = value.Text() ?? "";
        }
        foreach (var variable in container.Get("env").Items())
        {
            var secret = variable.Path("valueFrom", "secretKeyRef");
            env[variable.Get("name").Text()!] = secret is null // name is required
                ? variable.Get("value").Text() ?? ""
                : $"secret:{secret.Get("name").Text()}/{secret.Get("key").Text()}";
        }
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
