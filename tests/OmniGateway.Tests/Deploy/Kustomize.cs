using System.Diagnostics;
using YamlDotNet.RepresentationModel;

namespace OmniGateway.Tests.Deploy;

/// <summary>
/// Renders a kustomization the way <c>kubectl apply -k</c> would: with <c>kubectl kustomize</c> when kubectl is on
/// the machine, otherwise with <see cref="Resolve"/>, which follows kustomize's rules for the few features our
/// overlays use (resources, strategic-merge patches, images). When both exist, a test holds them to the same result.
/// </summary>
internal static class Kustomize
{
    private static readonly string[] MergeKeys = ["name", "mountPath"];
    private static readonly Lazy<bool> Kubectl = new(() => Run("kubectl", ["version", "--client"], out _, out _) == 0);

    public static bool KubectlAvailable => Kubectl.Value;

    /// <summary>The rendered YAML stream of a kustomization folder (repository-relative).</summary>
    public static string Render(string folder) => KubectlAvailable ? RenderWithKubectl(folder) : Serialize(Resolve(folder));

    public static string RenderWithKubectl(string folder)
    {
        var exit = Run("kubectl", ["kustomize", RepositoryFiles.PathOf(folder)], out var output, out var error);
        return exit == 0 ? output : throw new Xunit.Sdk.XunitException($"kubectl kustomize {folder} failed: {error}");
    }

    public static IReadOnlyList<YamlMappingNode> Parse(string yaml)
    {
        var stream = new YamlStream();
        stream.Load(new StringReader(yaml));
        return stream.Documents.Select(d => d.RootNode).OfType<YamlMappingNode>().ToList();
    }

    /// <summary>resources (files or folders, recursively), then patches by kind and name, then images.</summary>
    public static List<YamlMappingNode> Resolve(string folder)
    {
        var kustomization = YamlFiles.Load($"{folder}/kustomization.yaml")[0];
        var documents = new List<YamlMappingNode>();
        foreach (var resource in kustomization.Get("resources").Items().Select(r => Normalize($"{folder}/{r.Text()}")))
            documents.AddRange(Directory.Exists(RepositoryFiles.PathOf(resource)) ? Resolve(resource) : YamlFiles.Load(resource));
        foreach (var patch in kustomization.Get("patches").Items().SelectMany(p => YamlFiles.Load(Normalize($"{folder}/{p.Get("path").Text()}"))))
        {
            var target = documents.SingleOrDefault(d => d.Kind() == patch.Kind() && d.Name() == patch.Name())
                ?? throw new Xunit.Sdk.XunitException($"{folder}: the patch of {patch.Kind()} {patch.Name()} matches no resource");
            Merge(target, patch);
        }
        foreach (var image in kustomization.Get("images").Items())
        {
            var name = image.Get("name").Text();
            foreach (var container in documents.Select(d => d.Path("spec", "template", "spec", "containers")).SelectMany(c => c.Items()).OfType<YamlMappingNode>())
            {
                if (container.Get("image").Text()?.Split(':')[0] != name) continue;
                container.Children[new YamlScalarNode("image")] = new YamlScalarNode($"{image.Get("newName").Text() ?? name}:{image.Get("newTag").Text() ?? "latest"}");
            }
        }
        return documents;
    }

    /// <summary>Strategic merge as kustomize does it for core types: maps merge, a null deletes, lists of items
    /// keyed by <c>name</c> (containers, env, volumes) or <c>mountPath</c> (volumeMounts) merge item by item, other lists are replaced.</summary>
    private static void Merge(YamlMappingNode target, YamlMappingNode patch)
    {
        foreach (var (key, value) in patch.Children)
        {
            if (value is YamlScalarNode { Value: "null" or "~" }) target.Children.Remove(key);
            else if (target.Children.TryGetValue(key, out var existing) && existing is YamlMappingNode map && value is YamlMappingNode patchMap) Merge(map, patchMap);
            else if (existing is YamlSequenceNode list && value is YamlSequenceNode patchList && MergeKey(patchList) is { } mergeKey)
            {
                foreach (var item in patchList.Children.OfType<YamlMappingNode>())
                {
                    var match = list.Children.OfType<YamlMappingNode>().FirstOrDefault(i => i.Get(mergeKey).Text() == item.Get(mergeKey).Text());
                    if (match is null) list.Children.Add(item);
                    else Merge(match, item);
                }
            }
            else target.Children[key] = value;
        }
    }

    private static string? MergeKey(YamlSequenceNode list) =>
        MergeKeys.FirstOrDefault(key => list.Children.Count > 0 && list.Children.All(i => i.Get(key) is not null));

    private static string Serialize(IEnumerable<YamlMappingNode> documents)
    {
        var writer = new StringWriter();
        new YamlStream(documents.Select(d => new YamlDocument(d))).Save(writer, assignAnchors: false);
        return writer.ToString();
    }

    private static string Normalize(string path)
    {
        var parts = new List<string>();
        foreach (var part in path.Split('/'))
        {
            if (part == "..") parts.RemoveAt(parts.Count - 1);
            else if (part is not ("." or "")) parts.Add(part);
        }
        return string.Join('/', parts);
    }

    public static int Run(string file, IEnumerable<string> arguments, out string output, out string error, string? input = null, string? workingDirectory = null)
    {
        var start = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true, RedirectStandardInput = input is not null };
        if (workingDirectory is not null) start.WorkingDirectory = workingDirectory;
        foreach (var argument in arguments) start.ArgumentList.Add(argument);
        try
        {
            using var process = Process.Start(start)!;
            var stdout = process.StandardOutput.ReadToEndAsync();
            var stderr = process.StandardError.ReadToEndAsync();
            if (input is not null)
            {
                process.StandardInput.Write(input);
                process.StandardInput.Close();
            }
            if (!process.WaitForExit(TimeSpan.FromMinutes(20))) process.Kill(entireProcessTree: true); // a publish on a loaded 2-core machine takes minutes
            process.WaitForExit();
            (output, error) = (stdout.Result, stderr.Result);
            return process.ExitCode;
        }
        catch (System.ComponentModel.Win32Exception exception)
        {
            (output, error) = ("", exception.Message);
            return -1;
        }
    }
}
