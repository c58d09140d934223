using OmniGateway.Proxy;
using static OmniGateway.Tests.Deploy.DeployManifests;
using OmniGateway.Upstream;

namespace OmniGateway.Tests.Deploy;

/// <summary>
/// The container and Kubernetes files, checked by parsing: this machine has no Docker engine, hadolint or
/// kubeconform, so these tests are what stands between a renamed option or a moved project and a broken deploy.
/// </summary>
public sealed class DeployFilesTests
{
    private const string Dockerfile = "Dockerfile";
    private const string Compose = "docker-compose.yml";
    private const string NginxConfig = "deploy/nginx/nginx.conf";
    private const string GatewayProject = "src/OmniGateway/OmniGateway.csproj";

    // Host build output would shadow the container's restore; data and secrets must never enter an image layer.
    private static readonly string[] MustNotReachTheBuildContext = ["**/bin/", "**/obj/", ".git/", "data/", "secrets/", "**/TestResults/"];
    private static readonly string[] ClusterServices = ["gateway-1", "gateway-2", "nginx", "postgres", "redis"];
    private static readonly string[] ComposeProfiles = ["", "cluster"];
    private static readonly string[] ComposeReplicas = ["gateway-1", "gateway-2"];

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
        var environment = Docker.Value.Final.Environment();
        var listening = environment["ASPNETCORE_HTTP_PORTS"].Split(';', ',').Select(int.Parse).ToHashSet();
        listening.Add(int.Parse(environment["Management__Port"])); // /metrics and detailed /readyz
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
    [InlineData("gateway")]
    [InlineData("gateway-1")]
    [InlineData("gateway-2")]
    public void Compose_GatewayEnvironmentNames_AreRealConfigurationKeys(string service) =>
        AssertConfigurationKeys($"{Compose} {service}", ComposeService(Compose, service).ComposeEnvironment().Keys);

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
    public void Compose_ClusterProfile_RunsTwoGatewaysOnPostgresAndRedis_BehindNginx_OnlyWhenAskedFor()
    {
        Assert.Equal("postgres:16", ComposeService(Compose, "postgres").Get("image").Text());
        Assert.Equal("redis:7", ComposeService(Compose, "redis").Get("image").Text());
        Assert.All(ClusterServices, s => Assert.Contains("cluster", ComposeService(Compose, s).Get("profiles").Items().Select(p => p.Text())));
        Assert.Null(ComposeService(Compose, "gateway").Get("profiles")); // the default profile: one gateway, simulator unless keyed

        var replicas = ComposeReplicas.Select(r => ComposeService(Compose, r).ComposeEnvironment()).ToList();
        foreach (var env in replicas)
        {
            Assert.Equal("Postgres", env["Usage__Provider"]);
            Assert.Equal("Redis", env["RateLimiting__Provider"]);
            Assert.Contains("Host=postgres", env["ConnectionStrings__Postgres"], StringComparison.Ordinal);
            Assert.StartsWith("redis:", env["ConnectionStrings__Redis"], StringComparison.Ordinal);
        }
        Assert.Equal(replicas[0].OrderBy(e => e.Key), replicas[1].OrderBy(e => e.Key)); // replicas differ only in name
        // The single gateway's settings, less its SQLite file, are the replicas' too (one place would drift).
        foreach (var (key, value) in ComposeService(Compose, "gateway").ComposeEnvironment().Where(e => e.Key != "Usage__ConnectionString"))
            Assert.Equal(value, replicas[0][key]);
    }

    [Fact]
    public void Compose_Nginx_BalancesExactlyTheTwoReplicas_Unbuffered()
    {
        var nginx = ComposeService(Compose, "nginx");
        var mount = Assert.Single(nginx.Get("volumes").Items()).Text()!;
        Assert.Equal($"./{NginxConfig}:/etc/nginx/nginx.conf:ro", mount);
        var config = RepositoryFiles.Read(NginxConfig);
        var servers = System.Text.RegularExpressions.Regex.Matches(config, @"^\s*server\s+([\w.-]+):(\d+);", System.Text.RegularExpressions.RegexOptions.Multiline)
            .Select(m => (Host: m.Groups[1].Value, Port: m.Groups[2].Value)).ToList();
        Assert.Equal(ComposeReplicas, servers.Select(s => s.Host));
        Assert.All(servers, s => Assert.Equal(ComposeService(Compose, s.Host).ComposeEnvironment()["ASPNETCORE_HTTP_PORTS"], s.Port));
        Assert.Contains("proxy_buffering off;", config, StringComparison.Ordinal); // SSE must not wait in nginx
        Assert.Contains("proxy_request_buffering off;", config, StringComparison.Ordinal);
    }

    [Fact]
    public void Compose_Config_IsValid_WhenDockerComposeIsInstalled()
    {
        // No engine is needed for `config`; the binary may still be missing (this machine has only the docker CLI).
        if (Kustomize.Run("docker", ["compose", "version"], out _, out _) != 0) return;
        foreach (var profile in ComposeProfiles)
        {
            var arguments = new List<string> { "compose", "-f", RepositoryFiles.PathOf(Compose) };
            if (profile.Length > 0) arguments.AddRange(["--profile", profile]);
            arguments.AddRange(["config", "-q"]);
            var exit = Kustomize.Run("docker", arguments, out _, out var error, workingDirectory: RepositoryFiles.Root);
            Assert.True(exit == 0, $"docker compose config ({profile}) failed: {error}");
        }
    }

    // ---- Kubernetes: KubernetesManifestsTests ----------------------------------------------------------

    // ---- secrets ------------------------------------------------------------------------------------

    [Fact]
    public void NoDeployFile_ContainsAnythingShapedLikeAKey()
    {
        var files = new[] { Dockerfile, ".dockerignore", Compose, NginxConfig, "secrets/README.md" }.Concat(KubernetesFiles());
        var found = files.SelectMany(f => KeyShapes.Find(RepositoryFiles.Read(f)).Select(k => $"{f}: {k[..Math.Min(8, k.Length)]}…")).ToList();
        Assert.Empty(found);
    }

    [Fact]
    public void SecretExample_HoldsOnlyAPlaceholder()
    {
        var examples = KubernetesFiles().Where(f => f.EndsWith("secret.example.yaml", StringComparison.Ordinal)).ToList();
        Assert.Equal(2, examples.Count); // the upstream key (base) and the database connections (cluster)
        var values = examples.SelectMany(f => Assert.Single(YamlFiles.Load(f)).Get("stringData").Entries()).Select(e => e.Value.Text() ?? "");
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
