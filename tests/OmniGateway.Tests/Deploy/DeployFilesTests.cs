using OmniGateway.Proxy;
using static OmniGateway.Tests.Deploy.DeployManifests;

namespace OmniGateway.Tests.Deploy;

/// <summary>
/// The container and Kubernetes files, checked by parsing: this machine has no Docker engine, hadolint or
/// kubeconform, so these tests are what stands between a renamed option or a moved project and a broken deploy.
/// </summary>
public sealed class DeployFilesTests
{
    private const string Dockerfile = "Dockerfile";
    private const string Compose = "docker-compose.yml";
    private const string ComposeMulti = "docker-compose.multi.yml";
    private const string GatewayProject = "src/OmniGateway/OmniGateway.csproj";

    // Host build output would shadow the container's restore; data and secrets must never enter an image layer.
    private static readonly string[] MustNotReachTheBuildContext = ["**/bin/", "**/obj/", ".git/", "data/", "secrets/", "**/TestResults/"];
    private static readonly string[] SharedStateServices = ["postgres", "redis"];

    private static readonly Lazy<DockerfileModel> Docker = new(() => DockerfileModel.Parse(RepositoryFiles.Read(Dockerfile)));

    private static int ImagePort => int.Parse(Docker.Value.Final.Environment()["ASPNETCORE_HTTP_PORTS"]);

    // ---- Dockerfile ---------------------------------------------------------------------------------

    [Fact]
    public void Dockerfile_BuildsOnSdk10_AndRunsOnAspNet10()
    {
        var stages = Docker.Value.Stages;
        Assert.True(stages.Count >= 2, "multi-stage: the SDK must not ship in the runtime image");
        Assert.Equal("mcr.microsoft.com/dotnet/sdk:10.0", stages[0].Image);
        Assert.Equal("mcr.microsoft.com/dotnet/aspnet:10.0", Docker.Value.Final.Image);
    }

    [Fact]
    public void Dockerfile_RuntimeStage_RunsAsNonRootUser()
    {
        var user = Assert.Single(Docker.Value.Final.Where("USER")).Arguments;
        var name = user.Split(':')[0];
        // $APP_UID is the aspnet image's non-root `app` user (numeric, so Kubernetes' runAsNonRoot can check it).
        Assert.True(name is "$APP_UID" or "${APP_UID}" or "app" || (int.TryParse(name, out var uid) && uid > 0), $"USER {user} is root");
    }

    [Fact]
    public void Dockerfile_ExposesThePortKestrelListensOn()
    {
        var exposed = Docker.Value.Final.Where("EXPOSE").SelectMany(e => e.Arguments.Split(' ', StringSplitOptions.RemoveEmptyEntries))
            .Select(p => int.Parse(p.Split('/')[0])).ToHashSet();
        var listening = Docker.Value.Final.Environment()["ASPNETCORE_HTTP_PORTS"].Split(';', ',').Select(int.Parse).ToHashSet();
        Assert.Equal(listening.Order(), exposed.Order());
    }

    [Fact]
    public void Dockerfile_CopiesOnlyPathsThatExist()
    {
        var missing = Docker.Value.Stages.SelectMany(s => s.Where("COPY")).Select(DockerfileModel.ParseCopy)
            .Where(c => c.From is null).SelectMany(c => c.Sources).Where(s => !RepositoryFiles.Exists(s.TrimEnd('/'))).ToList();
        Assert.Empty(missing);
    }

    [Fact]
    public void Dockerfile_RestoreLayer_CopiesBuildPropsAndEveryProjectBeforeTheSources()
    {
        var build = Docker.Value.Stages[0].Instructions;
        var restore = build.ToList().FindIndex(i => i.Keyword == "RUN" && i.Arguments.Contains("dotnet restore", StringComparison.Ordinal));
        Assert.True(restore > 0, "the build stage restores in a RUN of its own");
        var copies = build.Take(restore).Where(i => i.Keyword == "COPY").Select(DockerfileModel.ParseCopy).ToList();
        var copied = copies.SelectMany(c => c.Sources).ToHashSet(StringComparer.Ordinal);

        // Anything else copied before restore (the source tree, say) would invalidate the package layer on every edit.
        Assert.All(copied, path => Assert.True(path.EndsWith(".props", StringComparison.Ordinal) || path.EndsWith(".csproj", StringComparison.Ordinal)
            || path is "nuget.config" or "NuGet.Config" or "global.json", $"{path} is copied before restore"));
        Assert.Contains("Directory.Build.props", copied);
        Assert.Contains("Directory.Packages.props", copied);
        foreach (var project in ProjectClosure(GatewayProject))
        {
            Assert.Contains(project, copied);
            var copy = copies.Single(c => c.Sources.Contains(project));
            Assert.Equal(Path.GetDirectoryName(project)!.Replace('\\', '/') + "/", copy.Destination); // a csproj always has a folder
        }
    }

    [Fact]
    public void Dockerfile_EntryPoint_RunsTheGatewayAssembly()
    {
        var entry = DockerfileModel.ExecForm(Assert.Single(Docker.Value.Final.Where("ENTRYPOINT")));
        Assert.NotNull(entry); // exec form: the shell form would swallow SIGTERM and cut streams short
        var assembly = typeof(UpstreamOptions).Assembly.GetName().Name;
        Assert.Equal(["dotnet", $"{assembly}.dll"], entry);
        Assert.Equal(Path.GetFileNameWithoutExtension(GatewayProject), assembly);
    }

    [Fact]
    public void Dockerfile_UsageStore_LivesInTheDataVolume()
    {
        var volume = Assert.Single(Docker.Value.Final.Where("VOLUME")).Arguments.Trim('[', ']', '"', ' ');
        Assert.Equal("/app/data", volume);
        Assert.Equal("Data Source=/app/data/omnigateway.db", Docker.Value.Final.Environment()["Usage__ConnectionString"]);
    }

    [Fact]
    public void Dockerfile_EnvironmentNames_AreRealConfigurationKeys() =>
        AssertConfigurationKeys(Dockerfile, Docker.Value.Final.Environment().Keys);

    [Fact]
    public void DockerIgnore_KeepsBuildOutputGitAndLocalDataOutOfTheContext()
    {
        var ignored = RepositoryFiles.Read(".dockerignore").ReplaceLineEndings("\n").Split('\n').Select(l => l.Trim()).ToHashSet();
        Assert.All(MustNotReachTheBuildContext, p => Assert.Contains(p, ignored));
    }

    // ---- docker-compose -----------------------------------------------------------------------------

    [Fact]
    public void Compose_Gateway_IsBuiltFromTheDockerfile_AndPublishesTheImagePort()
    {
        var gateway = ComposeService(Compose, "gateway");
        Assert.Equal(Dockerfile, gateway.Path("build", "dockerfile").Text());
        Assert.Contains($"{ImagePort}:{ImagePort}", gateway.Get("ports").Items().Select(p => p.Text()));
        Assert.Equal(ImagePort.ToString(), gateway.ComposeEnvironment()["ASPNETCORE_HTTP_PORTS"]);
    }

    [Theory]
    [InlineData(Compose)]
    [InlineData(ComposeMulti)]
    public void Compose_GatewayEnvironmentNames_AreRealConfigurationKeys(string file) =>
        AssertConfigurationKeys(file, ComposeService(file, "gateway").ComposeEnvironment().Keys);

    [Fact]
    public void Compose_UpstreamKey_IsAGitignoredFileSecret_MountedWhereApiKeyFilePoints()
    {
        var gateway = ComposeService(Compose, "gateway");
        var secret = Assert.Single(gateway.Get("secrets").Items()).Text();
        Assert.Equal("upstream_api_key", secret);
        Assert.Equal($"/run/secrets/{secret}", gateway.ComposeEnvironment()["Upstream__ApiKeyFile"]);
        Assert.Equal("./secrets/upstream_api_key", YamlFiles.Load(Compose)[0].Path("secrets", secret!, "file").Text());
        Assert.Contains("secrets/*", RepositoryFiles.Read(".gitignore").ReplaceLineEndings("\n").Split('\n'));
        Assert.DoesNotContain(gateway.ComposeEnvironment().Keys, k => k.Equals("Upstream__ApiKey", StringComparison.OrdinalIgnoreCase));
    }

    [Fact]
    public void Compose_DataVolume_HoldsTheUsageStore()
    {
        var gateway = ComposeService(Compose, "gateway");
        Assert.Contains(gateway.Get("volumes").Items(), v => v.Text()?.EndsWith(":/app/data", StringComparison.Ordinal) == true);
        Assert.StartsWith("Data Source=/app/data/", gateway.ComposeEnvironment()["Usage__ConnectionString"], StringComparison.Ordinal);
    }

    [Fact]
    public void Compose_MultiProfile_SharesPostgresAndRedis_OnlyWhenAskedFor()
    {
        Assert.Equal("postgres:16", ComposeService(Compose, "postgres").Get("image").Text());
        Assert.Equal("redis:7", ComposeService(Compose, "redis").Get("image").Text());
        Assert.All(SharedStateServices, s => Assert.Contains("multi", ComposeService(Compose, s).Get("profiles").Items().Select(p => p.Text())));
        Assert.Null(ComposeService(Compose, "gateway").Get("profiles")); // the gateway runs without any profile

        var env = ComposeService(ComposeMulti, "gateway").ComposeEnvironment();
        Assert.Equal("Postgres", env["Usage__Provider"]);
        Assert.Equal("Redis", env["RateLimiting__Provider"]);
        Assert.Contains("Host=postgres", env["ConnectionStrings__Postgres"], StringComparison.Ordinal);
        Assert.StartsWith("redis:", env["ConnectionStrings__Redis"], StringComparison.Ordinal);
    }

    // ---- Kubernetes ---------------------------------------------------------------------------------

    [Fact]
    public void KubernetesManifests_Parse_AndEachNamesItsKind()
    {
        var documents = KubernetesFiles().SelectMany(f => YamlFiles.Load(f).Select(d => (File: f, Doc: d))).ToList();
        Assert.NotEmpty(documents);
        Assert.All(documents, d => Assert.False(string.IsNullOrEmpty(d.Doc.Kind()), $"{d.File} has a document without kind"));
        Assert.All(documents, d => Assert.Null(d.Doc.Path("metadata", "namespace"))); // chosen at apply time
        var kinds = documents.Select(d => d.Doc.Kind()).ToHashSet();
        Assert.Superset(new HashSet<string> { "Deployment", "Service", "ConfigMap", "PodDisruptionBudget", "Secret" }, kinds);
    }

    [Fact]
    public void Deployments_ProbeHealthzAndReadyz_OnTheContainerPort()
    {
        foreach (var container in Deployments().SelectMany(d => d.Path("spec", "template", "spec", "containers").Items()))
        {
            var port = Assert.Single(container.Get("ports").Items());
            Assert.Equal(ImagePort.ToString(), port.Get("containerPort").Text());
            Assert.Equal("/healthz", container.Path("livenessProbe", "httpGet", "path").Text());
            Assert.Equal("/readyz", container.Path("readinessProbe", "httpGet", "path").Text());
            foreach (var probe in new[] { "livenessProbe", "readinessProbe" })
            {
                var probePort = container.Path(probe, "httpGet", "port").Text();
                Assert.True(probePort == port.Get("name").Text() || probePort == ImagePort.ToString(), $"{probe} probes port {probePort}");
            }
        }
    }

    [Fact]
    public void Deployments_RunAsNonRoot_OnAReadOnlyRoot_WithWritableTmpAndData()
    {
        foreach (var deployment in Deployments())
        {
            var pod = deployment.Path("spec", "template", "spec");
            Assert.Equal("true", pod.Path("securityContext", "runAsNonRoot").Text());
            Assert.True(int.Parse(deployment.Path("spec", "replicas").Text() ?? "1") >= 2, "a PodDisruptionBudget needs a second replica to mean anything");
            var emptyDirs = pod.Get("volumes").Items().Where(v => v.Get("emptyDir") is not null).Select(v => v.Get("name").Text()).ToHashSet();
            foreach (var container in pod.Get("containers").Items())
            {
                Assert.Equal("true", container.Path("securityContext", "readOnlyRootFilesystem").Text());
                Assert.Equal("false", container.Path("securityContext", "allowPrivilegeEscalation").Text());
                Assert.NotNull(container.Path("resources", "requests", "memory"));
                Assert.NotNull(container.Path("resources", "limits", "memory"));
                var mounts = container.Get("volumeMounts").Items().ToDictionary(m => m.Get("mountPath").Text()!, m => m.Get("name").Text()); // mountPath is required
                Assert.Contains(mounts["/tmp"], emptyDirs);
                Assert.True(mounts.ContainsKey("/app/data"), "the usage store needs a writable volume");
            }
        }
    }

    [Fact]
    public void Deployments_MountTheUpstreamSecret_WhereApiKeyFilePoints()
    {
        var example = Assert.Single(YamlFiles.Load($"{Kubernetes}/secret.example.yaml"));
        foreach (var deployment in Deployments())
        {
            var pod = deployment.Path("spec", "template", "spec");
            var container = Assert.Single(pod.Get("containers").Items());
            var env = ContainerEnvironment(container);
            Assert.DoesNotContain(env.Keys, k => k.Equals("Upstream__ApiKey", StringComparison.OrdinalIgnoreCase)); // a file, never env
            var keyFile = env["Upstream__ApiKeyFile"];
            var volume = Assert.Single(pod.Get("volumes").Items(), v => v.Get("secret") is not null);
            Assert.Equal(example.Name(), volume.Path("secret", "secretName").Text());
            var mount = Assert.Single(container.Get("volumeMounts").Items(), m => m.Get("name").Text() == volume.Get("name").Text());
            Assert.Equal("true", mount.Get("readOnly").Text());
            var item = Assert.Single(volume.Path("secret", "items").Items());
            Assert.Equal($"{mount.Get("mountPath").Text()}/{item.Get("path").Text()}", keyFile);
            Assert.NotNull(example.Path("stringData", item.Get("key").Text()!)); // items always name a key
        }
    }

    [Fact]
    public void Deployments_EnvironmentNames_AreRealConfigurationKeys()
    {
        foreach (var container in Deployments().SelectMany(d => d.Path("spec", "template", "spec", "containers").Items()))
            AssertConfigurationKeys($"{Kubernetes} (container env and ConfigMaps)", ContainerEnvironment(container).Keys);
    }

    [Fact]
    public void ServiceAndDisruptionBudget_SelectTheDeploymentsPods()
    {
        var documents = KubernetesFiles().SelectMany(YamlFiles.Load).ToList();
        var podLabels = Assert.Single(Deployments()).Path("spec", "template", "metadata", "labels").Entries()
            .ToDictionary(e => e.Key, e => e.Value.Text());
        var service = Assert.Single(documents, d => d.Kind() == "Service");
        Assert.All(service.Path("spec", "selector").Entries(), e => Assert.Equal(podLabels[e.Key], e.Value.Text()));
        Assert.Equal("http", Assert.Single(service.Path("spec", "ports").Items()).Get("targetPort").Text());
        var budget = Assert.Single(documents, d => d.Kind() == "PodDisruptionBudget");
        Assert.All(budget.Path("spec", "selector", "matchLabels").Entries(), e => Assert.Equal(podLabels[e.Key], e.Value.Text()));
    }

    [Fact]
    public void Kustomization_ListsExistingManifests_ButNeverTheExampleSecret()
    {
        var resources = YamlFiles.Load($"{Kubernetes}/kustomization.yaml")[0].Get("resources").Items().Select(r => r.Text()!).ToList();
        Assert.All(resources, r => Assert.True(RepositoryFiles.Exists($"{Kubernetes}/{r}"), $"{r} does not exist"));
        Assert.DoesNotContain("secret.example.yaml", resources);
    }

    // ---- secrets ------------------------------------------------------------------------------------

    [Fact]
    public void NoDeployFile_ContainsAnythingShapedLikeAKey()
    {
        var files = new[] { Dockerfile, ".dockerignore", Compose, ComposeMulti, "secrets/README.md" }.Concat(KubernetesFiles());
        var found = files.SelectMany(f => KeyShapes.Find(RepositoryFiles.Read(f)).Select(k => $"{f}: {k[..Math.Min(8, k.Length)]}…")).ToList();
        Assert.Empty(found);
    }

    [Fact]
    public void SecretExample_HoldsOnlyAPlaceholder()
    {
        var values = Assert.Single(YamlFiles.Load($"{Kubernetes}/secret.example.yaml")).Get("stringData").Entries().Select(e => e.Value.Text() ?? "");
        Assert.All(values, v => Assert.StartsWith("REPLACE_", v, StringComparison.Ordinal));
    }

    [Fact]
    public void KeyShapes_CatchesPastedKeys_ButNotPlaceholders()
    {
        // Built at run time so this file does not itself look like it leaks a key.
        var fake = "sk-" + new string('a', 10) + "B7c9D1e3F5g7H9";
        Assert.NotEmpty(KeyShapes.Find($"Upstream__ApiKey: {fake}"));
        Assert.NotEmpty(KeyShapes.Find("ConnectionStrings__Postgres: Host=db;Password=" + "hunter2"));
        Assert.NotEmpty(KeyShapes.Find("token: " + "Zm9vYmFyYmF6UXV4MTIzNDU2Nzg5MA"));
        Assert.NotEmpty(KeyShapes.Find("key: " + "Zm9vYmFyYmF6UXV4MTIzNDU2Nzg5MA__x"));
        Assert.Empty(KeyShapes.Find("upstream_api_key: \"REPLACE_WITH_YOUR_UPSTREAM_KEY\"\nPassword=${POSTGRES_PASSWORD:?set it}\nUpstream__ApiKeyFile: /run/secrets/upstream_api_key\nGateway__Tenants__0__KeySha256__0: <sha256 hex>"));
    }

    [Theory]
    [InlineData("Upstream__ApiKeyFile", true)]
    [InlineData("Upstream__ApiKeyFiel", false)]
    [InlineData("Gateway__Tenants__0__KeySha256__0", true)]
    [InlineData("Gateway__Tenants__0__Limits__RequestsPerMinute", true)]
    [InlineData("Gateway__Tenants__x__Id", false)]
    [InlineData("Models__qwen3.5-omni-plus-all__owned_by", true)]
    [InlineData("Simulator__EventDelay", true)]
    [InlineData("Upstream", false)]
    [InlineData("ConnectionStrings__Postgres", true)]
    [InlineData("ConnectionStrings__Mysql", false)]
    [InlineData("ASPNETCORE_HTTP_PORT", false)]
    public void ConfigurationKeys_AcceptOnlyWhatTheOptionsClassesBind(string variable, bool known) =>
        Assert.Equal(known, ConfigurationKeys.Problem(variable) is null);
}
