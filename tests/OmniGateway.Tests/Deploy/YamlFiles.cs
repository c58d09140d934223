using YamlDotNet.RepresentationModel;

namespace OmniGateway.Tests.Deploy;

/// <summary>YAML documents as YamlDotNet's node tree, with the few lookups the tests need.</summary>
internal static class YamlFiles
{
    /// <summary>Every document of a file; throws (failing the test) when the file is not valid YAML.</summary>
    public static IReadOnlyList<YamlMappingNode> Load(string relativePath)
    {
        using var reader = new StringReader(RepositoryFiles.Read(relativePath));
        var stream = new YamlStream();
        stream.Load(reader);
        return stream.Documents.Select(d => d.RootNode).OfType<YamlMappingNode>().ToList();
    }

    public static YamlNode? Get(this YamlNode? node, string key) =>
        node is YamlMappingNode map && map.Children.TryGetValue(new YamlScalarNode(key), out var value) ? value : null;

    public static YamlNode? Path(this YamlNode? node, params string[] keys) =>
        keys.Aggregate(node, (current, key) => current.Get(key));

    public static string? Text(this YamlNode? node) => (node as YamlScalarNode)?.Value;

    public static IEnumerable<YamlNode> Items(this YamlNode? node) =>
        node is YamlSequenceNode seq ? seq.Children : [];

    public static IEnumerable<KeyValuePair<string, YamlNode>> Entries(this YamlNode? node) =>
        node is YamlMappingNode map
            ? map.Children.Select(kv => KeyValuePair.Create(((YamlScalarNode)kv.Key).Value ?? "", kv.Value))
            : [];

    /// <summary>A compose `environment:`, either as a mapping or as a list of NAME=value.</summary>
    public static Dictionary<string, string> ComposeEnvironment(this YamlNode? service)
    {
        var env = service.Get("environment");
        if (env is YamlSequenceNode)
        {
            return env.Items().Select(i => i.Text() ?? "").Select(s => s.Split('=', 2))
                .ToDictionary(p => p[0], p => p.Length > 1 ? p[1] : "", StringComparer.Ordinal);
        }
        return env.Entries().ToDictionary(e => e.Key, e => e.Value.Text() ?? "", StringComparer.Ordinal);
    }

    public static string Kind(this YamlMappingNode document) => document.Get("kind").Text() ?? "";

    public static string Name(this YamlMappingNode document) => document.Path("metadata", "name").Text() ?? "";
}
