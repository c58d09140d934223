using System.Net;
using System.Net.Sockets;
using System.Text.RegularExpressions;
using static OmniGateway.Tests.Deploy.DeployManifests;

namespace OmniGateway.Tests.Deploy;

/// <summary>
/// The image, built without an engine: the Dockerfile's build stage is replayed as written (its COPYs from the
/// context less .dockerignore, its RUNs — restore and publish — word for word) in a scratch folder standing in
/// for the container's root, then the output is started as ENTRYPOINT does, with the image's ENV and the compose
/// file's environment, until it reports ready.
/// </summary>
[Trait("Category", "Slow")]
public sealed partial class PublishAndRunTests : IDisposable
{
    private readonly string _root = Path.Combine(Path.GetTempPath(), "og-image-" + Guid.NewGuid().ToString("N"));

    public void Dispose()
    {
        try { Directory.Delete(_root, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    }

    [Fact]
    public async Task Dockerfile_PublishesAsWritten_AndTheOutputStartsAsEntrypointDoes_WithTheComposeEnvironment()
    {
        var docker = DockerfileModel.Parse(RepositoryFiles.Read("Dockerfile"));
        var ignored = RepositoryFiles.Read(".dockerignore").ReplaceLineEndings("\n").Split('\n').Select(l => l.Trim())
            .Where(l => l.Length > 0 && !l.StartsWith('#')).ToList();

        // 1. The build stage, instruction by instruction.
        var build = docker.Stages[0];
        var workdir = "/";
        foreach (var instruction in build.Instructions)
        {
            switch (instruction.Keyword)
            {
                case "WORKDIR":
                    workdir = instruction.Arguments.StartsWith('/') ? instruction.Arguments : $"{workdir.TrimEnd('/')}/{instruction.Arguments}";
                    Directory.CreateDirectory(InRoot(workdir));
                    break;
                case "COPY":
                    var copy = DockerfileModel.ParseCopy(instruction);
                    Assert.Null(copy.From); // the build stage copies from the context only
                    var destination = copy.Destination.StartsWith('/') ? copy.Destination : $"{workdir.TrimEnd('/')}/{copy.Destination}";
                    foreach (var source in copy.Sources) CopyFromContext(source, destination, ignored);
                    break;
                case "RUN":
                    var command = Relocate(instruction.Arguments);
                    var exit = Kustomize.Run("sh", ["-c", command], out var output, out var error, workingDirectory: InRoot(workdir));
                    Assert.True(exit == 0, $"RUN {instruction.Arguments} failed ({exit}):\n{Tail(output)}\n{Tail(error)}");
                    break;
            }
        }

        // 2. The runtime stage takes the publish output; ENTRYPOINT runs it from its WORKDIR.
        var final = docker.Final;
        var fromBuild = DockerfileModel.ParseCopy(Assert.Single(final.Where("COPY"), c => c.Arguments.Contains("--from=", StringComparison.Ordinal)));
        var published = InRoot(Assert.Single(fromBuild.Sources));
        var entry = DockerfileModel.ExecForm(Assert.Single(final.Where("ENTRYPOINT")))!;
        Assert.True(File.Exists(Path.Combine(published, entry[1])), $"{entry[1]} is not in the publish output");

        var environment = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var (key, value) in final.Environment()) environment[key] = Relocate(value);
        foreach (var (key, value) in ComposeService("docker-compose.yml", "gateway").ComposeEnvironment()) environment[key] = Relocate(value);
        // The compose secret, empty as secrets/README.md says for the simulator; the data volume.
        var keyFile = environment["Upstream__ApiKeyFile"];
        Directory.CreateDirectory(Path.GetDirectoryName(keyFile)!);
        await File.WriteAllTextAsync(keyFile, "");
        Directory.CreateDirectory(InRoot("/app/data"));

        // What `docker run -p` remaps: the ports inside the container are free ones here. They are probed, not 0:
        // Management:Port 0 means "on the API port", so a separate management port needs its number up front. A
        // probed port can be taken by another process before the gateway binds it; that start is retried.
        for (var attempt = 1; ; attempt++)
        {
            var (apiPort, managementPort) = (FreePort(), FreePort());
            environment["ASPNETCORE_HTTP_PORTS"] = apiPort.ToString();
            environment["Management__Port"] = managementPort.ToString();

            var start = new System.Diagnostics.ProcessStartInfo(entry[0]) { WorkingDirectory = published, RedirectStandardOutput = true, RedirectStandardError = true };
            foreach (var argument in entry.Skip(1)) start.ArgumentList.Add(argument);
            foreach (var (key, value) in environment) start.Environment[key] = value;
            start.Environment.Remove("ASPNETCORE_ENVIRONMENT"); // the image sets none: Production
            start.Environment.Remove("DOTNET_ENVIRONMENT");
            using var process = System.Diagnostics.Process.Start(start)!;
            var log = new System.Collections.Concurrent.ConcurrentQueue<string>();
            process.OutputDataReceived += (_, e) => { if (e.Data is not null) log.Enqueue(e.Data); };
            process.ErrorDataReceived += (_, e) => { if (e.Data is not null) log.Enqueue(e.Data); };
            process.BeginOutputReadLine();
            process.BeginErrorReadLine();
            try
            {
                using var client = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{apiPort}"), Timeout = TimeSpan.FromSeconds(5) };
                HttpResponseMessage? ready = null;
                for (var deadline = DateTime.UtcNow.AddSeconds(120); ready?.StatusCode != HttpStatusCode.OK && DateTime.UtcNow < deadline;)
                {
                    if (process.HasExited && attempt < 3 && LostAPort(process, log)) break; // retried below
                    Assert.False(process.HasExited, "the published gateway exited at start-up:\n" + string.Join('\n', log.TakeLast(30)));
                    try { ready = await client.GetAsync("/readyz"); }
                    catch (HttpRequestException) { await Task.Delay(250); }
                    catch (TaskCanceledException) { }
                }
                if (process.HasExited && attempt < 3 && LostAPort(process, log)) continue; // on two new ports
                Assert.True(ready?.StatusCode == HttpStatusCode.OK, "/readyz did not answer 200:\n" + string.Join('\n', log.TakeLast(30)));
                Assert.Equal("simulator", ready!.Headers.GetValues("x-omnigateway-upstream").Single()); // the empty key file
                Assert.True(File.Exists(InRoot("/app/data/omnigateway.db")), "the usage store is not in the data volume");
                return;
            }
            finally
            {
                process.Kill(entireProcessTree: true);
                await process.WaitForExitAsync();
            }
        }
    }

    /// <summary>The gateway exited because a probed port was taken before it bound it (Kestrel's AddressInUseException).</summary>
    private static bool LostAPort(System.Diagnostics.Process process, IEnumerable<string> log)
    {
        process.WaitForExit(); // the output read to its end
        return log.Any(line => line.Contains("address already in use", StringComparison.OrdinalIgnoreCase));
    }

    /// <summary>An absolute path inside the container, under the scratch root.</summary>
    private string InRoot(string containerPath) => Path.Combine(_root, containerPath.TrimStart('/'));

    /// <summary>Container paths in a command or value (/app/…, /src/…, /run/…) moved under the scratch root.</summary>
    private string Relocate(string text) => ContainerPath().Replace(text, m => InRoot(m.Value));

    [GeneratedRegex(@"(?<=^|[\s=""'])/(app|src|run)(?=/|\b)")]
    private static partial Regex ContainerPath();

    private void CopyFromContext(string source, string destination, IReadOnlyList<string> ignored)
    {
        var from = RepositoryFiles.PathOf(source.TrimEnd('/'));
        if (File.Exists(from))
        {
            var target = destination.EndsWith('/') ? $"{destination}{Path.GetFileName(from)}" : destination;
            Directory.CreateDirectory(Path.GetDirectoryName(InRoot(target))!);
            File.Copy(from, InRoot(target), overwrite: true);
            return;
        }
        Assert.True(Directory.Exists(from), $"COPY source {source} is not in the build context");
        foreach (var file in Directory.EnumerateFiles(from, "*", SearchOption.AllDirectories))
        {
            var relative = Path.GetRelativePath(RepositoryFiles.Root, file).Replace('\\', '/');
            if (Ignored(relative, ignored)) continue;
            var target = InRoot($"{destination.TrimEnd('/')}/{Path.GetRelativePath(from, file).Replace('\\', '/')}");
            Directory.CreateDirectory(Path.GetDirectoryName(target)!);
            File.Copy(file, target, overwrite: true);
        }
    }

    /// <summary>The .dockerignore forms the file uses: <c>**/dir/</c>, <c>dir/</c>, <c>**/*.ext</c> and plain names.</summary>
    private static bool Ignored(string path, IReadOnlyList<string> patterns)
    {
        var segments = path.Split('/');
        foreach (var pattern in patterns)
        {
            if (pattern.StartsWith("**/*", StringComparison.Ordinal) && path.EndsWith(pattern[4..], StringComparison.Ordinal)) return true;
            if (pattern.StartsWith("**/", StringComparison.Ordinal) && pattern.EndsWith('/') && segments.AsSpan(0, segments.Length - 1).Contains(pattern[3..^1])) return true;
            if (pattern.EndsWith('/') && !pattern.Contains('*') && path.StartsWith(pattern, StringComparison.Ordinal)) return true;
            if (path == pattern) return true;
        }
        return false;
    }

    private static string Tail(string text) => text.Length > 3000 ? text[^3000..] : text;

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
