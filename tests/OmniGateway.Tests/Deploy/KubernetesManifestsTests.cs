using YamlDotNet.RepresentationModel;
using static OmniGateway.Tests.Deploy.DeployManifests;

namespace OmniGateway.Tests.Deploy;

/// <summary>
/// The Kubernetes overlays, rendered as <c>kubectl apply -k</c> would send them (see <see cref="Kustomize"/>) and
/// checked against the API schemas and against what the gateway reads. No cluster is needed, and none is used.
/// </summary>
public sealed class KubernetesManifestsTests
{
    // Gateway:ShutdownTimeout's default: how long the gateway lets open streams finish after SIGTERM.
    private static readonly TimeSpan ShutdownTimeout = TimeSpan.FromMinutes(5);
    private const int ManagementPort = 9464; // Management:Port's default
    private const int ApiPort = 8080;
    private static readonly string[] Probes = ["startupProbe", "livenessProbe", "readinessProbe"];

    public static TheoryData<string> AllOverlays => [.. Overlays];

    // ---- what is in the repository ------------------------------------------------------------------

    [Fact]
    public void EveryManifestFile_Parses_NamesItsKind_AndLeavesTheNamespaceOpen()
    {
        var documents = KubernetesFiles().SelectMany(f => YamlFiles.Load(f).Select(d => (File: f, Doc: d))).ToList();
        Assert.NotEmpty(documents);
        Assert.All(documents, d => Assert.False(string.IsNullOrEmpty(d.Doc.Kind()), $"{d.File} has a document without kind"));
        Assert.All(documents, d => Assert.Null(d.Doc.Path("metadata", "namespace"))); // chosen at apply time
        Assert.All(documents.Where(d => d.Doc.Kind() == "Kustomization"), d => Assert.Null(d.Doc.Get("namespace")));
    }

    [Fact]
    public void Kustomizations_ListExistingFiles_ButNeverTheExampleSecrets()
    {
        foreach (var file in KubernetesFiles().Where(f => f.EndsWith("/kustomization.yaml", StringComparison.Ordinal)))
        {
            var folder = file[..file.LastIndexOf('/')];
            var kustomization = YamlFiles.Load(file)[0];
            var listed = kustomization.Get("resources").Items().Select(r => r.Text()!)
                .Concat(kustomization.Get("patches").Items().Select(p => p.Get("path").Text()!)).ToList();
            Assert.All(listed, r => Assert.True(RepositoryFiles.Exists($"{folder}/{r}"), $"{file}: {r} does not exist"));
            Assert.DoesNotContain(listed, r => r.Contains("secret", StringComparison.OrdinalIgnoreCase));
        }
    }

    // ---- rendered overlays --------------------------------------------------------------------------

    [Theory]
    [MemberData(nameof(AllOverlays))]
    public void Overlay_IsValidAgainstTheKubernetesSchemas(string overlay)
    {
        var (exit, output) = KubernetesSchema.Validate(RenderedYaml(overlay));
        Assert.True(exit == 0, $"{overlay}:\n{output}");
        Assert.Equal(Rendered(overlay).Count, output.Split('\n').Count(l => l.StartsWith("valid ", StringComparison.Ordinal)));
    }

    [Fact]
    public void SchemaCheck_RejectsAnInvalidManifest()
    {
        // The check above must be able to fail: replicas as a string is what a mistyped patch produces.
        var broken = RenderedYaml(Cluster).Replace("replicas: 3", "replicas: three", StringComparison.Ordinal);
        Assert.NotEqual(RenderedYaml(Cluster), broken);
        var (exit, output) = KubernetesSchema.Validate(broken);
        Assert.NotEqual(0, exit);
        Assert.Contains("INVALID Deployment omnigateway", output, StringComparison.Ordinal);
    }

    [Theory]
    [MemberData(nameof(AllOverlays))]
    public void Overlay_RendersTheSameWithKubectl_AsWithTheTestsOwnResolver(string overlay)
    {
        if (!Kustomize.KubectlAvailable) return; // then the resolver is all there is, and the other tests use it
        var kubectl = Kustomize.Parse(Kustomize.RenderWithKubectl($"{Kubernetes}/overlays/{overlay}"));
        var resolved = Kustomize.Resolve($"{Kubernetes}/overlays/{overlay}");
        Assert.Equal(kubectl.Select(d => $"{d.Kind()}/{d.Name()}").Order(), resolved.Select(d => $"{d.Kind()}/{d.Name()}").Order());
        Assert.Equal(Summary(kubectl), Summary(resolved));
    }

    [Theory]
    [MemberData(nameof(AllOverlays))]
    public void Overlay_EnvironmentNames_AreRealConfigurationKeys(string overlay) =>
        AssertConfigurationKeys($"{overlay} (container env and ConfigMaps)", ContainerEnvironment(GatewayContainer(overlay), Rendered(overlay)).Keys);

    [Fact]
    public void SingleNode_KeepsUsageInSqlite_OnAPersistentVolume_WithOneReplicaRecreated()
    {
        var documents = Rendered(SingleNode);
        var deployment = Deployment(SingleNode);
        Assert.Equal("1", deployment.Path("spec", "replicas").Text());
        Assert.Equal("Recreate", deployment.Path("spec", "strategy", "type").Text()); // never two writers of one file
        var env = ContainerEnvironment(GatewayContainer(SingleNode), documents);
        Assert.Equal("Sqlite", env["Usage__Provider"]);
        var dataMount = Assert.Single(GatewayContainer(SingleNode).Get("volumeMounts").Items(), m => m.Get("name").Text() == "data");
        Assert.StartsWith($"Data Source={dataMount.Get("mountPath").Text()}/", env["Usage__ConnectionString"], StringComparison.Ordinal);

        var volume = Assert.Single(deployment.Path("spec", "template", "spec", "volumes").Items(), v => v.Get("name").Text() == "data");
        Assert.Null(volume.Get("emptyDir")); // an emptyDir is wiped with the pod, and usage with it
        var claim = Assert.Single(documents, d => d.Kind() == "PersistentVolumeClaim");
        Assert.Equal(claim.Name(), volume.Path("persistentVolumeClaim", "claimName").Text());
        Assert.DoesNotContain(documents, d => d.Kind() is "PodDisruptionBudget" or "HorizontalPodAutoscaler");
    }

    [Fact]
    public void Cluster_SharesUsageInPostgres_AndLimitsInRedis_ThroughTheKeysTheGatewayReads()
    {
        var env = ContainerEnvironment(GatewayContainer(Cluster), Rendered(Cluster));
        // Usage:Provider and RateLimiting:Provider, spelled as environment variables.
        Assert.Equal("Postgres", env["Usage__Provider"]);
        Assert.Equal("Redis", env["RateLimiting__Provider"]);
        Assert.Null(ConfigurationKeys.Problem("Usage__Provider"));
        Assert.Null(ConfigurationKeys.Problem("RateLimiting__Provider"));
        // The connection strings hold passwords: from a Secret, never in the manifests.
        Assert.StartsWith("secret:", env["ConnectionStrings__Postgres"], StringComparison.Ordinal);
        Assert.StartsWith("secret:", env["ConnectionStrings__Redis"], StringComparison.Ordinal);
        var example = Assert.Single(YamlFiles.Load($"{Kubernetes}/overlays/{Cluster}/secret.example.yaml"));
        foreach (var reference in new[] { env["ConnectionStrings__Postgres"], env["ConnectionStrings__Redis"] })
        {
            var (name, key) = (reference["secret:".Length..].Split('/')[0], reference.Split('/')[1]);
            Assert.Equal(example.Name(), name);
            Assert.NotNull(example.Path("stringData", key));
        }
    }

    [Fact]
    public void Cluster_RunsSeveralReplicas_AutoscaledOnCpu_WithADisruptionBudget()
    {
        var documents = Rendered(Cluster);
        var deployment = Deployment(Cluster);
        Assert.True(int.Parse(deployment.Path("spec", "replicas").Text()!) >= 2);
        Assert.Equal("0", deployment.Path("spec", "strategy", "rollingUpdate", "maxUnavailable").Text());

        var hpa = Assert.Single(documents, d => d.Kind() == "HorizontalPodAutoscaler");
        Assert.Equal("autoscaling/v2", hpa.Get("apiVersion").Text());
        Assert.Equal(("Deployment", deployment.Name()), (hpa.Path("spec", "scaleTargetRef", "kind").Text(), hpa.Path("spec", "scaleTargetRef", "name").Text()));
        Assert.True(int.Parse(hpa.Path("spec", "minReplicas").Text()!) >= 2, "one pod left would make the budget below block every drain");
        var metric = Assert.Single(hpa.Path("spec", "metrics").Items());
        Assert.Equal("cpu", metric.Path("resource", "name").Text());
        Assert.Equal("Utilization", metric.Path("resource", "target", "type").Text());
        // Utilization is relative to the request: without one the autoscaler cannot act.
        Assert.NotNull(GatewayContainer(Cluster).Path("resources", "requests", "cpu"));

        var budget = Assert.Single(documents, d => d.Kind() == "PodDisruptionBudget");
        var podLabels = Labels(deployment.Path("spec", "template", "metadata", "labels"));
        Assert.All(budget.Path("spec", "selector", "matchLabels").Entries(), e => Assert.Equal(podLabels[e.Key], e.Value.Text()));
    }

    [Theory]
    [MemberData(nameof(AllOverlays))]
    public void Overlay_OutwaitsTheGatewaysShutdown_AndProbesItsHealth(string overlay)
    {
        var pod = Deployment(overlay).Path("spec", "template", "spec");
        Assert.True(int.Parse(pod.Get("terminationGracePeriodSeconds").Text()!) > ShutdownTimeout.TotalSeconds,
            "the kubelet would SIGKILL the gateway while its streams still finish");
        var container = GatewayContainer(overlay);
        var ports = container.Get("ports").Items().ToDictionary(p => p.Get("name").Text()!, p => int.Parse(p.Get("containerPort").Text()!));
        Assert.Equal(ApiPort, ports["http"]);
        Assert.Equal("/healthz", container.Path("livenessProbe", "httpGet", "path").Text());
        Assert.Equal("/readyz", container.Path("readinessProbe", "httpGet", "path").Text());
        foreach (var probe in Probes)
            Assert.Equal("http", container.Path(probe, "httpGet", "port").Text());
        var env = ContainerEnvironment(container, Rendered(overlay));
        Assert.Equal(ApiPort.ToString(), env["ASPNETCORE_HTTP_PORTS"]);
    }

    [Theory]
    [MemberData(nameof(AllOverlays))]
    public void Overlay_AnnouncesTheManagementPortForScraping(string overlay)
    {
        var template = Deployment(overlay).Path("spec", "template");
        var annotations = Labels(template.Path("metadata", "annotations"));
        Assert.Equal("true", annotations["prometheus.io/scrape"]);
        Assert.Equal(ManagementPort.ToString(), annotations["prometheus.io/port"]);
        Assert.Equal("/metrics", annotations["prometheus.io/path"]);
        var container = GatewayContainer(overlay);
        Assert.Equal(ManagementPort.ToString(), ContainerEnvironment(container, Rendered(overlay))["Management__Port"]);
        Assert.Contains(container.Get("ports").Items(), p => p.Get("containerPort").Text() == ManagementPort.ToString());
    }

    [Theory]
    [MemberData(nameof(AllOverlays))]
    public void Overlay_RunsAsNonRoot_OnAReadOnlyRoot_WithWritableTmpAndData_AndSizedResources(string overlay)
    {
        var pod = Deployment(overlay).Path("spec", "template", "spec");
        Assert.Equal("true", pod.Path("securityContext", "runAsNonRoot").Text());
        var memoryVolumes = pod.Get("volumes").Items().Where(v => v.Get("emptyDir") is not null).Select(v => v.Get("name").Text()).ToHashSet();
        var container = GatewayContainer(overlay);
        Assert.Equal("true", container.Path("securityContext", "readOnlyRootFilesystem").Text());
        Assert.Equal("false", container.Path("securityContext", "allowPrivilegeEscalation").Text());
        Assert.NotNull(container.Path("resources", "requests", "cpu"));
        Assert.NotNull(container.Path("resources", "requests", "memory"));
        Assert.NotNull(container.Path("resources", "limits", "memory"));
        var mounts = container.Get("volumeMounts").Items().ToDictionary(m => m.Get("mountPath").Text()!, m => m.Get("name").Text()); // mountPath is required
        Assert.Contains(mounts["/tmp"], memoryVolumes);
        Assert.True(mounts.ContainsKey("/app/data"), "the usage store needs a writable volume");
    }

    [Theory]
    [MemberData(nameof(AllOverlays))]
    public void Overlay_MountsTheUpstreamSecret_WhereApiKeyFilePoints(string overlay)
    {
        var example = Assert.Single(YamlFiles.Load($"{Kubernetes}/base/secret.example.yaml"));
        var pod = Deployment(overlay).Path("spec", "template", "spec");
        var container = GatewayContainer(overlay);
        var env = ContainerEnvironment(container, Rendered(overlay));
        Assert.DoesNotContain(env.Keys, k => k.Equals("Upstream__ApiKey", StringComparison.OrdinalIgnoreCase)); // a file, never env
        var volume = Assert.Single(pod.Get("volumes").Items(), v => v.Get("secret") is not null);
        Assert.Equal(example.Name(), volume.Path("secret", "secretName").Text());
        var mount = Assert.Single(container.Get("volumeMounts").Items(), m => m.Get("name").Text() == volume.Get("name").Text());
        Assert.Equal("true", mount.Get("readOnly").Text());
        var item = Assert.Single(volume.Path("secret", "items").Items());
        Assert.Equal($"{mount.Get("mountPath").Text()}/{item.Get("path").Text()}", env["Upstream__ApiKeyFile"]);
        Assert.NotNull(example.Path("stringData", item.Get("key").Text()!)); // items always name a key
    }

    [Theory]
    [MemberData(nameof(AllOverlays))]
    public void Overlay_ServiceSelectsTheDeploymentsPods_OnTheNamedPorts(string overlay)
    {
        var podLabels = Labels(Deployment(overlay).Path("spec", "template", "metadata", "labels"));
        var service = Assert.Single(Rendered(overlay), d => d.Kind() == "Service");
        Assert.All(service.Path("spec", "selector").Entries(), e => Assert.Equal(podLabels[e.Key], e.Value.Text()));
        var containerPorts = GatewayContainer(overlay).Get("ports").Items().Select(p => p.Get("name").Text()).ToHashSet();
        Assert.All(service.Path("spec", "ports").Items(), p => Assert.Contains(p.Get("targetPort").Text(), containerPorts));
    }

    private static Dictionary<string, string?> Labels(YamlNode? node) => node.Entries().ToDictionary(e => e.Key, e => e.Value.Text());

    /// <summary>What the overlays decide, per object: replicas, strategy, volumes by kind, the container's environment, the ConfigMap.</summary>
    private static List<string> Summary(IReadOnlyList<YamlMappingNode> documents)
    {
        var lines = new List<string>();
        foreach (var document in documents.OrderBy(d => d.Kind(), StringComparer.Ordinal))
        {
            var spec = document.Get("spec");
            lines.Add($"{document.Kind()} {document.Name()} replicas={spec.Get("replicas").Text()} strategy={spec.Path("strategy", "type").Text()}");
            foreach (var (key, value) in document.Get("data").Entries().OrderBy(e => e.Key, StringComparer.Ordinal)) lines.Add($"  data {key}={value.Text()}");
            foreach (var volume in spec.Path("template", "spec", "volumes").Items().OrderBy(v => v.Get("name").Text(), StringComparer.Ordinal))
                lines.Add($"  volume {volume.Get("name").Text()}: {string.Join(",", volume.Entries().Select(e => e.Key).Where(k => k != "name").Order(StringComparer.Ordinal))}");
            foreach (var container in spec.Path("template", "spec", "containers").Items())
            {
                lines.Add($"  container {container.Get("name").Text()} image={container.Get("image").Text()}");
                foreach (var (key, value) in ContainerEnvironment(container, documents).OrderBy(e => e.Key, StringComparer.Ordinal)) lines.Add($"    env {key}={value}");
            }
        }
        return lines;
    }
}
